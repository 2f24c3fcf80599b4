/** The generated kernel module text for the current stableAdamW.wat (see build-wasm.mjs). */
export function generatedSource(): Promise<string>;

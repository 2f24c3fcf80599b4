/** Webview (browser) entry point of the NIfTI viewer. */
export {};

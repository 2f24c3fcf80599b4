/**
 * The project's vocabulary: every enumerated name that more than one layer spells (sequence
 * names and their display spellings, modality-subset labels, execution providers, colormaps,
 * model presets, config choices, command ids), declared once. The engine, the CLI, the
 * extension host and the webview import it from here; package.json's enums and
 * schemas/anyad.schema.json's enums must equal it (test/shared/vocabulary.test.ts).
 *
 * Pure TypeScript with no imports: it is bundled into the browser-side webview too.
 */

// ---- sequences ------------------------------------------------------------------

/** Sequences a study can hold. T1ce is shown and kept with a study but is never a model channel. */
export const SEQUENCES = ['flair', 't1', 't1ce', 't2'] as const;
export type SequenceName = (typeof SEQUENCES)[number];

/** The model's input channels, in channel order: [FLAIR, T1, T2] everywhere. */
export const CHANNELS = ['flair', 't1', 't2'] as const;
export type ChannelName = (typeof CHANNELS)[number];

/** What a case file can be: a sequence or the label mask (keys of `data.sequences`, values of `data.assignments`). */
export const CASE_FILE_ROLES = [...SEQUENCES, 'label'] as const;
export type CaseFileRole = (typeof CASE_FILE_ROLES)[number];

/** The order the user interface lists sequences in (tabs, pickers): the model's channels, then T1ce. */
export const SEQUENCE_DISPLAY_ORDER: readonly SequenceName[] = Object.freeze([...CHANNELS, 't1ce']);

/** How the user interface names each role (tabs, pickers, checkboxes). */
export const ROLE_TITLES: Readonly<Record<CaseFileRole, string>> = Object.freeze({
  flair: 'FLAIR',
  t1: 'T1',
  t1ce: 'T1ce',
  t2: 'T2',
  label: 'Label',
});

/** How error and log messages name a role: 'FLAIR', 'T1', 'T1CE', 'T2', 'label'. */
export function roleLabel(role: CaseFileRole): string {
  return role === 'label' ? 'label' : role.toUpperCase();
}

// ---- modality subsets -----------------------------------------------------------

/** Letters of each channel in a subset's short label. */
const CHANNEL_SHORT: Readonly<Record<ChannelName, string>> = Object.freeze({ flair: 'F', t1: 'T1', t2: 'T2' });

function inChannelOrder(channels: Iterable<ChannelName>): ChannelName[] {
  const set = new Set(channels);
  return CHANNELS.filter((c) => set.has(c));
}

/**
 * A subset's short label, the one reports, bundles and detect JSON use: 'F', 'T1', 'T2',
 * 'F+T1', 'F+T2', 'T1+T2', 'F+T1+T2' (channel order, whatever order the channels come in).
 */
export function subsetLabel(channels: Iterable<ChannelName>): string {
  return inChannelOrder(channels)
    .map((c) => CHANNEL_SHORT[c])
    .join('+');
}

/** A subset as the viewer writes it: 'FLAIR+T2', 'FLAIR+T1+T2' (channel order). */
export function subsetDisplayName(channels: Iterable<ChannelName>): string {
  return inChannelOrder(channels)
    .map((c) => c.toUpperCase())
    .join('+');
}

// ---- where models run and how they look -------------------------------------------

/** Execution providers: `train.provider`, the `anyad.executionProvider` setting, `--provider`. */
export const PROVIDERS = ['auto', 'cpu', 'cuda', 'webgpu', 'dml', 'coreml'] as const;
export type ProviderChoice = (typeof PROVIDERS)[number];

/** Colormaps of the anomaly overlay (the `anyad.overlay.colormap` setting and the viewer). */
export const COLORMAPS = ['hot', 'jet', 'viridis'] as const;
export type Colormap = (typeof COLORMAPS)[number];

/** Model presets (engine/model/presets.ts holds what each one is). */
export const MODEL_PRESET_NAMES = ['tiny-cpu', 'cpu', 'paper'] as const;
export type ModelPresetName = (typeof MODEL_PRESET_NAMES)[number];

// ---- anyad.json choices -------------------------------------------------------------

/** `train.masking`: which modality subset a training sample sees, drawn per sample, batch or epoch. */
export const MASKING_SCHEMES = ['sample', 'batch', 'epoch'] as const;
export type MaskingScheme = (typeof MASKING_SCHEMES)[number];

/** `data.unlabelled`: cases without a label file are left out, or used as all-normal. */
export const UNLABELLED_RULES = ['exclude', 'normal'] as const;
export type UnlabelledRule = (typeof UNLABELLED_RULES)[number];

/** `data.slices.axis`: only axial slices for now. */
export const SLICE_AXES = ['axial'] as const;
export type SliceAxis = (typeof SLICE_AXES)[number];

// ---- VS Code settings and commands ----------------------------------------------------

/** The `anyad.downloads` setting: may pretrained weights be downloaded. */
export const DOWNLOAD_SETTINGS = ['ask', 'allow', 'never'] as const;
export type DownloadSetting = (typeof DOWNLOAD_SETTINGS)[number];

/** Command ids contributed in package.json (the command palette). */
export const COMMANDS = Object.freeze({
  detect: 'anyad.detect',
  train: 'anyad.train',
  scan: 'anyad.scan',
  assignSequence: 'anyad.assignSequence',
  showModelCard: 'anyad.showModelCard',
  pretrainedWeights: 'anyad.pretrainedWeights',
  showSetup: 'anyad.showSetup',
  installCuda: 'anyad.installCuda',
} as const);

/** A command registered but not contributed: the E2E tests' probe of extension-host blocking. */
export const HOST_BLOCK_COMMAND = 'anyad.hostBlock';

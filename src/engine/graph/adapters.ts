/**
 * What a WebGPU adapter would be, without creating one. onnxruntime-node does not report the
 * adapter Dawn picked, so on Linux we read what Dawn's Vulkan backend can see: the Vulkan
 * loader's driver (ICD) manifests. Drivers that run on the CPU (SwiftShader, lavapipe/llvmpipe,
 * the Vulkan mock ICD) make WebGPU 20–45× slower than onnxruntime's CPU provider (measured),
 * so 'auto' skips WebGPU when they are all there is; an explicit 'webgpu' still uses them.
 *
 * Also: the environment that exposes Chromium's SwiftShader ICD to a child process (the CI
 * WebGPU checks), since the Vulkan loader reads VK_ICD_FILENAMES and the dynamic linker reads
 * LD_LIBRARY_PATH only when a process starts.
 */
import { existsSync, readdirSync } from 'node:fs';
import { readRegularTextFile } from '../util/fileio';
import { homedir } from 'node:os';
import { basename, delimiter, dirname, isAbsolute, join } from 'node:path';

export interface VulkanDriver {
  /** The ICD manifest (.json). */
  manifest: string;
  /** Its library_path, as written in the manifest. */
  library: string;
  /** A CPU implementation: SwiftShader, lavapipe (llvmpipe), the mock ICD. */
  software: boolean;
  /** Short name for messages, e.g. 'SwiftShader'. */
  name: string;
}

const SOFTWARE_DRIVERS: Array<[RegExp, string]> = [
  [/swiftshader/i, 'SwiftShader'],
  [/lvp|lavapipe|llvmpipe/i, 'lavapipe (llvmpipe)'],
  [/mock_icd/i, 'Vulkan mock ICD'],
];

/** Classifies a driver by its library's file name. */
export function classifyDriver(manifest: string, library: string): VulkanDriver {
  const file = basename(library.replace(/\\/g, '/'));
  const hit = SOFTWARE_DRIVERS.find(([re]) => re.test(file));
  return { manifest, library, software: hit !== undefined, name: hit ? hit[1] : file.replace(/^lib|\.so.*$|\.dll$/g, '') };
}

/**
 * Manifest files the Vulkan loader (1.3) would use: VK_DRIVER_FILES / VK_ICD_FILENAMES replace
 * the search, VK_ADD_DRIVER_FILES adds to it; otherwise DIR/vulkan/icd.d for DIR in XDG_CONFIG_DIRS,
 * /etc, XDG_DATA_HOME and XDG_DATA_DIRS. Linux only (elsewhere: []).
 */
export function vulkanDriverManifests(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string[] {
  if (platform !== 'linux') return [];
  const list = (v: string | undefined) => (v ?? '').split(':').filter((p) => p !== '');
  const expand = (p: string): string[] => {
    try {
      if (p.endsWith('.json')) return existsSync(p) ? [p] : [];
      return readdirSync(p)
        .filter((f) => f.endsWith('.json'))
        .sort()
        .map((f) => join(p, f));
    } catch {
      return [];
    }
  };
  const override = list(env.VK_DRIVER_FILES ?? env.VK_ICD_FILENAMES);
  if (override.length > 0) return override.flatMap(expand);
  const home = env.HOME ?? homedir();
  const configDirs = [...list(env.XDG_CONFIG_DIRS || '/etc/xdg'), '/etc'];
  const dataDirs = [env.XDG_DATA_HOME || join(home, '.local/share'), ...list(env.XDG_DATA_DIRS || '/usr/local/share:/usr/share')];
  const dirs = [...configDirs, ...dataDirs].map((d) => join(d, 'vulkan', 'icd.d'));
  return [...new Set([...list(env.VK_ADD_DRIVER_FILES).flatMap(expand), ...dirs.flatMap(expand)])];
}

/** The Vulkan drivers visible to this process (unreadable manifests are skipped). */
export function vulkanDrivers(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): VulkanDriver[] {
  const out: VulkanDriver[] = [];
  for (const m of vulkanDriverManifests(env, platform)) {
    try {
      const lib = (JSON.parse(readRegularTextFile(m, { maxBytes: 1024 * 1024 })) as { ICD?: { library_path?: unknown } }).ICD?.library_path;
      if (typeof lib === 'string') out.push(classifyDriver(m, lib));
    } catch {
      /* not a manifest */
    }
  }
  return out;
}

/**
 * Why 'auto' should not use WebGPU on this machine, or undefined when a hardware adapter may
 * exist (or we cannot tell: Windows and macOS, where Dawn picks a D3D12/Metal adapter).
 */
export function webgpuSoftwareOnlyReason(
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
): string | undefined {
  if (platform !== 'linux') return undefined;
  const drivers = vulkanDrivers(env, platform);
  if (drivers.length === 0) return "WebGPU has no Vulkan driver to run on (no ICD manifest in the Vulkan loader's search path)";
  if (drivers.every((d) => d.software)) {
    const names = [...new Set(drivers.map((d) => d.name))].join(', ');
    return `WebGPU would run on a software Vulkan driver (${names}: ${drivers.map((d) => d.manifest).join(', ')}), slower than the CPU provider; ask for provider 'webgpu' explicitly to use it anyway`;
  }
  return undefined;
}

/** Where Debian's chromium package installs SwiftShader (scripts/install-test-deps.sh makes sure it is there). */
export const SWIFTSHADER_ICD_CANDIDATES = ['/usr/lib/chromium/vk_swiftshader_icd.json'];

/**
 * Environment additions that make the SwiftShader ICD the only Vulkan driver of a child
 * process (ANYAD_SWIFTSHADER_ICD names another manifest), or undefined when none is installed.
 * The manifest's folder goes on LD_LIBRARY_PATH for the libvulkan.so.1 Chromium ships beside
 * it (Debian's libvulkan1 is not needed then).
 */
export function swiftShaderEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> | undefined {
  const icd = [env.ANYAD_SWIFTSHADER_ICD, ...SWIFTSHADER_ICD_CANDIDATES].find((p): p is string => !!p && isAbsolute(p) && existsSync(p));
  if (!icd) return undefined;
  const dir = dirname(icd);
  const ld = [dir, ...(env.LD_LIBRARY_PATH ?? '').split(delimiter).filter((p) => p !== '' && p !== dir)].join(delimiter);
  return { VK_ICD_FILENAMES: icd, LD_LIBRARY_PATH: ld };
}

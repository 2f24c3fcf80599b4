/** `anyad info FILE`: a NIfTI file's header summary and intensity statistics. */
import { affineSource, effectiveScaling, readNifti, volumeStats } from '../../engine/nifti';
import { intOption, type CommandSpec } from '../args';

/** Short decimal form for the text report (full precision stays in --json). */
function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6)));
}

export const infoCommand: CommandSpec = {
  name: 'info',
  summary: "show a NIfTI file's header summary and intensity statistics",
  usage: 'anyad info FILE [--json] [--volume N]',
  options: {
    json: { type: 'boolean', description: 'print one JSON object instead of text' },
    volume: { type: 'string', description: 'which volume of a 4-D file to summarise', default: '0' },
    'allow-non-finite': { type: 'boolean', description: 'count NaN/Inf voxels as 0 instead of failing' },
  },
  positionals: [1, 1],
  run(opts, [file], io) {
    const volumeIndex = intOption(opts, 'volume', 0);
    const r = readNifti(file, { volumeIndex, allowNonFinite: opts['allow-non-finite'] === true });
    const h = r.header;
    const stats = volumeStats(r.volume);
    const scaling = effectiveScaling(h);
    const summary = {
      file,
      version: h.version,
      endianness: h.littleEndian ? 'little' : 'big',
      compressed: r.compressed,
      dims: h.dims,
      datatype: h.datatype,
      bitpix: h.bitpix,
      voxelSize: r.volume.spacing,
      pixdim: h.pixdim,
      orientation: h.orientation,
      affineSource: affineSource(h),
      affine: [0, 1, 2, 3].map((i) => Array.from(h.affine.subarray(i * 4, i * 4 + 4))),
      scaling,
      description: h.description,
      volumes: r.volumes,
      volumeIndex,
      stats: { ...stats, nonFiniteReplaced: r.nonFiniteReplaced },
    };
    if (opts.json) {
      io.stdout.write(JSON.stringify(summary) + '\n');
      return 0;
    }
    const lines = [
      `file:         ${file}`,
      `format:       NIfTI-${h.version}, ${summary.endianness}-endian${r.compressed ? ', gzip-compressed' : ''}`,
      `dimensions:   ${h.dims.join(' × ')}${r.volumes > 1 ? ` (${r.volumes} volumes)` : ''}`,
      `datatype:     ${h.datatype} (${h.bitpix} bits)`,
      `voxel size:   ${summary.voxelSize.map(fmt).join(' × ')} mm`,
      `orientation:  ${h.orientation} (affine from ${summary.affineSource})`,
      `scaling:      ${scaling ? `value = ${fmt(scaling.slope)} × stored + ${fmt(scaling.inter)}` : 'none'}`,
      ...(h.description ? [`description:  ${h.description}`] : []),
      `statistics${r.volumes > 1 ? ` (volume ${volumeIndex})` : ''}:`,
      `  min ${fmt(stats.min)}, max ${fmt(stats.max)}, mean ${fmt(stats.mean)}, non-zero ${stats.nonZero} of ${stats.count} voxels`,
      ...(r.nonFiniteReplaced ? [`  ${r.nonFiniteReplaced} NaN/Inf voxels counted as 0`] : []),
    ];
    io.stdout.write(lines.join('\n') + '\n');
    return 0;
  },
};

/**
 * Stands in for numcodecs' blosc/lz4/zstd codecs in the webview bundle. NiiVue reaches them
 * only through zarrita, for OME-Zarr images, which this viewer never loads (it shows NIfTI);
 * the real codecs embed WebAssembly and are 1.3 MB of the bundle's 2.3 MB, parsed on every open.
 */
export default {
  fromConfig(): never {
    throw new Error('zarr codecs are not part of the AnyAD viewer (it opens NIfTI files)');
  },
};

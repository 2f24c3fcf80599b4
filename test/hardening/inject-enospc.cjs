// Preload (node --require) for the disk-full case where no small tmpfs can be mounted: every
// write to a file opened under $ANYAD_INJECT_ENOSPC fails with ENOSPC, as a full disk would.
const fs = require('node:fs');
const { resolve } = require('node:path');
const dir = resolve(process.env.ANYAD_INJECT_ENOSPC || '/nonexistent');
const fds = new Set();
const enospc = () => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });
const { openSync, writeSync, closeSync, writeFileSync } = fs;
fs.openSync = function (p, ...rest) {
  const fd = openSync.call(this, p, ...rest);
  if (typeof p === 'string' && resolve(p).startsWith(dir + '/')) fds.add(fd);
  return fd;
};
fs.writeSync = function (fd, ...rest) {
  if (fds.has(fd)) throw enospc();
  return writeSync.call(this, fd, ...rest);
};
fs.closeSync = function (fd) {
  fds.delete(fd);
  return closeSync.call(this, fd);
};
fs.writeFileSync = function (p, ...rest) {
  if (typeof p === 'string' && resolve(p).startsWith(dir + '/')) throw enospc();
  return writeFileSync.call(this, p, ...rest);
};

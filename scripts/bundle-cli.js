'use strict';
// dmctl as one file: tsc's dist/cli/main.js and the ~120 modules it requires become one bundle in
// its place. Node resolves, reads and compiles each module separately, which costs dmctl about a
// second at every start in an emulated guest (half that on slow ARM boards): the bundle is one read
// and one compile. The addon's loader (src/native.ts) stays outside, at dist/native.js, because it
// finds the addon from its own folder.
const path = require('node:path');
const esbuild = require('esbuild');

const ROOT = path.join(__dirname, '..');
const NATIVE = path.join(ROOT, 'src', 'native.ts');

const keepNativeOutside = {
  name: 'native-outside',
  setup(build) {
    build.onResolve({ filter: /(^|\/)native$/ }, (args) => {
      if (path.resolve(args.resolveDir, `${args.path}.ts`) !== NATIVE) return undefined;
      return { path: '../native.js', external: true };
    });
  },
};

esbuild.build({
  entryPoints: [path.join(ROOT, 'src', 'cli', 'main.ts')],
  outfile: path.join(ROOT, 'dist', 'cli', 'main.js'),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  external: ['node-gyp-build'],
  plugins: [keepNativeOutside],
  logLevel: 'warning',
}).catch(() => process.exit(1));

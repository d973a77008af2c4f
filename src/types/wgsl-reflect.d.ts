// The package's `main` is broken under Node ESM, so code imports the module build; its types are the package's own.
declare module 'wgsl_reflect/wgsl_reflect.module.js' {
  export * from 'wgsl_reflect';
}

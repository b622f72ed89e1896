// The JavaScript program of `rusm bench programs`: QuickJS (its C sources
// from the npm package qjsc, fetched at build time) evaluating workload.js,
// embedded by the build as js_workload.h. argv[1]: SCALE (default 1).
// Prints {"checksum":N}; exits 1 with the exception if the script throws.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "js_workload.h"  // kWorkload, kWorkloadSize
#include "quickjs.h"

int main(int argc, char** argv) {
  int scale = argc > 1 ? atoi(argv[1]) : 1;
  JSRuntime* rt = JS_NewRuntime();
  JSContext* ctx = rt ? JS_NewContext(rt) : NULL;
  if (ctx == NULL) {
    fprintf(stderr, "js: cannot create a QuickJS context\n");
    return 1;
  }
  JSValue global = JS_GetGlobalObject(ctx);
  JS_SetPropertyStr(ctx, global, "SCALE", JS_NewInt32(ctx, scale));
  JS_FreeValue(ctx, global);
  JSValue result =
      JS_Eval(ctx, (const char*)kWorkload, kWorkloadSize, "workload.js", JS_EVAL_TYPE_GLOBAL);
  if (JS_IsException(result)) {
    JSValue e = JS_GetException(ctx);
    const char* text = JS_ToCString(ctx, e);
    fprintf(stderr, "js: workload.js threw: %s\n", text ? text : "?");
    return 1;
  }
  int32_t checksum = 0;
  JS_ToInt32(ctx, &checksum, result);
  JS_FreeValue(ctx, result);
  JS_FreeContext(ctx);
  JS_FreeRuntime(rt);
  printf("{\"checksum\":%u}\n", (unsigned)checksum);
  return 0;
}

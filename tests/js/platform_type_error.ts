// Must NOT type-check against guest/js/rusm.d.ts (test guest.js_dts): the
// declarations constrain, they are not `any`.
const b = rusm.kv.open(42);
const s: string = rusm.publish("t", "x");
rusm.supervisor.start({ strategy: "one_for_two", children: [] });

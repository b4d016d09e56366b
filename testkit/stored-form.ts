// An object as the API server would hold it had it been created through it.
import { withApiDefaults } from "./api-defaults.ts";
import { withGoEncoding } from "./api-encoding.ts";
import { withServerTimestamps } from "./api-timestamps.ts";
import { eventsV1ToCoreEvent, isCoreEvent, isEventsV1Event, storedCoreEvent } from "./event-apis.ts";
import type { KubeObject } from "./kube-object.ts";
import { isBuiltInObject } from "./resource-types.ts";

/**
 * What the server would hold had the object been created through it: defaults filled in, written back as Go writes
 * the stored struct, times in its precision.
 */
export function storedForm(o: KubeObject): KubeObject {
  if (isEventsV1Event(o)) return withServerTimestamps(eventsV1ToCoreEvent(o), true);
  if (isCoreEvent(o)) return withServerTimestamps(storedCoreEvent(o), true);
  const builtIn = isBuiltInObject(o);
  return withServerTimestamps(builtIn ? withGoEncoding(withApiDefaults(o)) : o, builtIn);
}

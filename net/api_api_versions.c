/* net/api_api_versions.c: ApiVersions (key 18), v0-3: the API table as the client sees it.
 * An unknown version is answered in the v0 body with UNSUPPORTED_VERSION and the full
 * list, never by closing: librdkafka would take a closed socket for a 0.10.0 broker and
 * turn most features off (PROTOCOL.md trap 3). */
#include "api.h"

enum rn_api_result rn_api_api_versions(rn_request *req) {
    rn_writer *w = &req->resp;
    int16_t v = req->api_version;
    bool known = v >= req->api->min_version && v <= req->api->max_version;
    if (!known) v = 0;
    /* The v3 body carries client_software_name/version; nothing here depends on them. */
    int n;
    const rn_api *apis = rn_api_table(&n);
    rn_write_i16(w, known ? RN_KAFKA_NONE : RN_KAFKA_UNSUPPORTED_VERSION);
    rn_write_array_len(w, n);
    for (int i = 0; i < n; i++) {
        rn_write_i16(w, apis[i].key);
        rn_write_i16(w, apis[i].min_version);
        rn_write_i16(w, apis[i].max_version);
        rn_write_tags(w);
    }
    if (v >= 1) rn_write_i32(w, 0); /* throttle_time_ms */
    rn_write_tags(w);
    return RN_API_DONE;
}

/* Docker Engine API payloads, without I/O: the event stream framing, the
 * event objects of GET /events, the container list of GET /containers/json,
 * the published ports of GET /containers/{id}/json, error bodies, and the
 * API-Version value.  Field names follow the Engine API reference
 * (moby/moby api/swagger.yaml, API 1.40 to 1.52).
 *
 * JSON goes through jsmn into a token array that the caller owns, so a
 * document that needs more than max_tokens fails with DOCKER_ERROR_JSON
 * and json_strerror(JSON_ERROR_NOMEM) in *json_error, never allocates. */
#ifndef RDAGENT_DOCKER_H
#define RDAGENT_DOCKER_H

#include <stddef.h>
#include <stdint.h>

#include "json.h"
#include "pev.h"

/* A full container ID: 64 lower-case hex digits. */
#define DOCKER_ID_LEN 64
/* Largest event record accepted from the stream.  Real events are a few
 * hundred bytes; the container's labels make them longer. */
#define DOCKER_RECORD_MAX 65536

enum docker_error {
	DOCKER_ERROR_JSON = -1,        /* not JSON, truncated, or over the token budget */
	DOCKER_ERROR_SHAPE = -2,       /* valid JSON without the expected fields */
	DOCKER_ERROR_RECORD_TOO_LONG = -3,
	DOCKER_ERROR_CALLBACK = -4,    /* a callback stopped the walk */
};

const char *docker_strerror(int err);

/* Container actions that decide what docker-watch does; every other
 * action (exec_start: ..., health_status: ..., pause, rename, ...) is
 * DOCKER_ACTION_OTHER. */
enum docker_action {
	DOCKER_ACTION_OTHER,
	DOCKER_ACTION_START,
	DOCKER_ACTION_RESTART,
	DOCKER_ACTION_DIE,
	DOCKER_ACTION_STOP,
	DOCKER_ACTION_KILL,
	DOCKER_ACTION_DESTROY,
	/* A network event "connect" or "disconnect": the container's ports
	 * may have changed (disconnected from every network, a running
	 * container publishes nothing). */
	DOCKER_ACTION_NETWORK,
};

struct docker_event {
	int is_container;             /* Type is "container", or absent (legacy shape) */
	int is_network;               /* Type is "network"; id is then Actor.Attributes.container */
	enum docker_action action;
	char action_text[64];         /* Action (or status), cut to fit, for logs */
	char id[DOCKER_ID_LEN + 1];   /* Actor.ID (or id); "" when not a container ID */
	int64_t time_nano;            /* timeNano, or time * 10^9, or 0 */
};

/* Extracts an event.  Both shapes are read: Type/Action/Actor.ID (API 1.22
 * on) and the legacy status/id; Action wins when both are present.
 * Returns 0 or a docker_error; *json_error is set for DOCKER_ERROR_JSON. */
int docker_event_parse(const char *text, size_t len, jsmntok_t *tokens, int max_tokens,
		       struct docker_event *ev, int *json_error);

/* Splits the body of GET /events into records.  Records end at LF (JSON
 * lines) and start after RS (0x1E, RFC 7464 json-seq), so both framings
 * give the same records; empty and all-whitespace records are skipped. */
struct docker_records {
	size_t len;
	int skipping;                  /* inside a record over DOCKER_RECORD_MAX */
	char buf[DOCKER_RECORD_MAX];
};

/* Called per record; a nonzero return stops docker_records_feed, which
 * then returns that value. */
typedef int docker_record_cb(void *ctx, const char *record, size_t len);

void docker_records_init(struct docker_records *r);
/* Returns 0, a callback's nonzero value, or DOCKER_ERROR_RECORD_TOO_LONG
 * (the record is dropped and the rest of it up to its end is skipped). */
int docker_records_feed(struct docker_records *r, const char *data, size_t len,
			docker_record_cb *cb, void *ctx);

/* One published port from NetworkSettings.Ports. */
struct docker_port {
	enum pev_proto proto;
	uint16_t container_port;
	struct pev_addr host_ip;      /* HostIp; "" becomes 0.0.0.0 */
	uint16_t host_port;
};

struct docker_container {
	char id[DOCKER_ID_LEN + 1];
	int running;                  /* State.Running and not State.Restarting */
	struct pev_addr ip;           /* the container's address, family 0 when none */
	unsigned ports;               /* valid published ports reported */
	unsigned invalid;             /* entries skipped as invalid */
	struct pev_addr ip6;          /* the container's global IPv6 address, family 0 when none */
};

/* Called per published port.  For an entry that cannot be used, port is
 * NULL, key is its "PORT/PROTO" and reason the cause; the entry is skipped. */
typedef int docker_port_cb(void *ctx, const struct docker_port *port, const char *key,
			   const char *reason);

/* Reads an inspect document.  The ports are reported only after the whole
 * document has been tokenized, so a truncated document reports none.
 * Ports are reported for a stopped container too (its map is empty). */
int docker_inspect_parse(const char *text, size_t len, jsmntok_t *tokens, int max_tokens,
			 struct docker_container *c, docker_port_cb *cb, void *ctx,
			 int *json_error);

/* Calls cb with each container's Id from a container list. */
typedef int docker_id_cb(void *ctx, const char *id);
int docker_list_parse(const char *text, size_t len, jsmntok_t *tokens, int max_tokens,
		      docker_id_cb *cb, void *ctx, int *json_error);

/* Copies the "message" of an API error body into out, sanitized for a log
 * line; out is "" when the body has none. */
void docker_error_message(const char *text, size_t len, jsmntok_t *tokens, int max_tokens,
			  char *out, size_t size);

/* Parses an API-Version value "1.NN" into NN.  Returns 0, or -1 when the
 * value is not of that form. */
int docker_api_version_parse(const char *s, size_t len, unsigned *minor);

/* 1 when s is a full container ID (64 lower-case hex digits). */
int docker_id_valid(const char *s, size_t len);

#endif

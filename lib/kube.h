/* Kubernetes API objects for nodeport-watch: Service extraction, watch
 * events, and a streaming splitter that cuts list and watch bodies into
 * one JSON object at a time, so memory is bounded by the largest object
 * rather than by the number of Services.
 *
 * Shapes follow the core/v1 API (Service, ServiceList, Status) and the
 * watch event encoding {"type": ..., "object": ...} of
 * k8s.io/apimachinery/pkg/apis/meta/v1 WatchEvent. */
#ifndef RDAGENT_KUBE_H
#define RDAGENT_KUBE_H

#include <stddef.h>
#include <stdint.h>

#include "json.h"
#include "pev.h"

/* A Service object or watch frame larger than this is skipped. */
#define KUBE_OBJECT_MAX (512u * 1024)
#define KUBE_OBJECT_MAX_TEXT "524288"   /* KUBE_OBJECT_MAX for messages */
/* Tokens for one object; a Service with more (huge labels or
 * managedFields) is skipped like an oversized one. */
#define KUBE_TOKENS_MAX 16384
#define KUBE_PORTS_MAX 128
#define KUBE_NAME_MAX 254
#define KUBE_RV_MAX 64

enum kube_service_type {
	KUBE_CLUSTER_IP,
	KUBE_NODE_PORT,
	KUBE_LOAD_BALANCER,
	KUBE_EXTERNAL_NAME,
	KUBE_OTHER_TYPE,
};

struct kube_port {
	enum pev_proto proto;
	uint16_t port;
	uint16_t node_port;          /* 0 when not allocated */
};

struct kube_service {
	char namespace[KUBE_NAME_MAX];
	char name[KUBE_NAME_MAX];
	char resource_version[KUBE_RV_MAX];
	enum kube_service_type type;
	unsigned port_count;
	struct kube_port ports[KUBE_PORTS_MAX];
};

/* One port to forward: Rancher Desktop's rule is NodePort -> nodePort,
 * LoadBalancer -> port; target is the Service port. */
struct kube_binding {
	enum pev_proto proto;
	uint16_t host_port;
	uint16_t target_port;
};

/* Reads the Service at token obj.  Returns 0, or -1 with *reason set. */
int kube_service_parse(const struct json *j, int obj, struct kube_service *svc, const char **reason);
/* Fills out with the Service's bindings, without duplicates, sorted.
 * Returns the count (at most KUBE_PORTS_MAX). */
unsigned kube_service_bindings(const struct kube_service *svc, struct kube_binding *out);

enum kube_event_type {
	KUBE_ADDED,
	KUBE_MODIFIED,
	KUBE_DELETED,
	KUBE_BOOKMARK,
	KUBE_ERROR,
};

struct kube_status {
	int code;                    /* Status.code, 0 when absent */
	char reason[64];             /* Status.reason, "" when absent */
	char message[256];           /* Status.message, "" when absent */
};

struct kube_event {
	enum kube_event_type type;
	char resource_version[KUBE_RV_MAX]; /* ADDED..BOOKMARK: object's version */
	struct kube_service service;        /* ADDED, MODIFIED, DELETED */
	struct kube_status status;          /* ERROR */
};

/* Decodes one watch frame.  tokens is caller-owned scratch of max
 * entries.  Returns 0, or -1 with *reason set. */
int kube_event_parse(const char *text, size_t len, jsmntok_t *tokens, int max,
		     struct kube_event *ev, const char **reason);
/* Reads a Status object (also the body of an HTTP error response). */
int kube_status_parse(const char *text, size_t len, jsmntok_t *tokens, int max,
		      struct kube_status *st);
/* 1 when a Status means "resource version too old": code 410, or reason
 * Expired or Gone (servers before code was set). */
int kube_status_expired(const struct kube_status *st);

/* List metadata: the page's resourceVersion and continue token. */
struct kube_list_meta {
	char resource_version[KUBE_RV_MAX];
	char continue_token[1024];
};
int kube_list_meta_parse(const char *text, size_t len, jsmntok_t *tokens, int max,
			 struct kube_list_meta *meta, const char **reason);

/* Streaming splitter.  KUBE_SPLIT_STREAM emits every top-level object (a
 * watch body: frames, newline-separated or not).  KUBE_SPLIT_LIST emits
 * each element of the top-level object's "items" array and its
 * "metadata" object (a list body).  Strings and nesting are tracked, so
 * braces inside strings never confuse it. */
enum kube_split_mode { KUBE_SPLIT_STREAM, KUBE_SPLIT_LIST };

enum kube_split_part { KUBE_PART_OBJECT, KUBE_PART_ITEM, KUBE_PART_METADATA };

/* Called with a complete object; too_large is 1 (and text is its first
 * bytes) when it exceeded the capture buffer.  Return 0 to go on. */
typedef int kube_split_cb(void *ctx, enum kube_split_part part, const char *text,
			  size_t len, int too_large);

struct kube_split {
	enum kube_split_mode mode;
	char *buf;                   /* caller-owned capture buffer */
	size_t cap, len;
	unsigned depth;
	int in_string, escape;
	int capturing, overflow;
	unsigned capture_depth;
	enum kube_split_part part;
	int expect_key;              /* depth 1: the next string is a key */
	int in_key;
	char key[16];
	size_t key_len;
	int key_overflow;
	int items_open;              /* inside the top-level "items" array */
	int pending;                 /* next depth-1 value belongs to this key */
	int invalid;                 /* bytes outside any JSON value */
};

void kube_split_init(struct kube_split *s, enum kube_split_mode mode, char *buf, size_t cap);
/* Feeds bytes; returns 0, the callback's non-zero value, or -EINVAL for
 * input that cannot be JSON (a stray closing bracket). */
int kube_split_feed(struct kube_split *s, const char *data, size_t len, kube_split_cb *cb, void *ctx);
/* 1 when the input ended between values (a complete body). */
int kube_split_idle(const struct kube_split *s);

#endif

/* containerd API messages that ctr-watch reads and writes, decoded with
 * lib/pb.h.  Field numbers come from containerd's protos:
 *
 *   api/services/events/v1/events.proto (1.6; api/types/event.proto in 2.x)
 *     SubscribeRequest { repeated string filters = 1; }
 *     Envelope { Timestamp timestamp = 1; string namespace = 2;
 *                string topic = 3; google.protobuf.Any event = 4; }
 *   google/protobuf/any.proto   Any { string type_url = 1; bytes value = 2; }
 *   api/events/task.proto
 *     TaskStart { string container_id = 1; uint32 pid = 2; }
 *     TaskExit { string container_id = 1; string id = 2; uint32 pid = 3;
 *                uint32 exit_status = 4; Timestamp exited_at = 5; }
 *     TaskDelete { string container_id = 1; uint32 pid = 2;
 *                  uint32 exit_status = 3; Timestamp exited_at = 4; string id = 5; }
 *   api/events/container.proto
 *     ContainerUpdate { string id = 1; string image = 2;
 *                       map<string, string> labels = 3; string snapshot_key = 4; }
 *     ContainerDelete { string id = 1; }
 *   api/services/containers/v1/containers.proto
 *     GetContainerRequest { string id = 1; }
 *     GetContainerResponse { Container container = 1; }
 *     Container { string id = 1; map<string, string> labels = 2; ... }
 *   api/services/tasks/v1/tasks.proto
 *     ListTasksRequest { string filter = 1; }
 *     ListTasksResponse { repeated containerd.v1.types.Process tasks = 1; }
 *   api/types/task/task.proto
 *     Process { string container_id = 1; string id = 2; uint32 pid = 3;
 *               Status status = 4; ... }   Status RUNNING = 2
 *   api/services/namespaces/v1/namespace.proto
 *     ListNamespacesResponse { repeated Namespace namespaces = 1; }
 *     Namespace { string name = 1; map<string, string> labels = 2; }
 *
 * A map<string, string> is a repeated message { key = 1; value = 2; }.
 * Unknown fields of every wire type are skipped. */
#ifndef RDAGENT_CONTAINERD_H
#define RDAGENT_CONTAINERD_H

#include <stddef.h>
#include <stdint.h>

/* Maximum namespace or container id length accepted.  containerd limits
 * identifiers to 76 characters (its identifiers package, maxLength). */
#define CTRD_NAME_MAX 255
#define CTRD_TOPIC_MAX 255
#define CTRD_STATUS_RUNNING 2

enum {
	CTRD_ERR_TYPE = -20,     /* a known field has the wrong wire type */
	CTRD_ERR_TOOLONG = -21,  /* a string is longer than its buffer */
	CTRD_ERR_CALLBACK = -22, /* the per-item callback returned non-zero */
	CTRD_ERR_MISSING = -23,  /* a required field is absent */
};

enum ctrd_event_kind {
	CTRD_EV_OTHER,
	CTRD_EV_TASK_START,
	CTRD_EV_TASK_EXIT,
	CTRD_EV_TASK_DELETE,
	CTRD_EV_CONTAINER_UPDATE,
	CTRD_EV_CONTAINER_DELETE,
};

/* A decoded Envelope and the part of its event that ctr-watch needs. */
struct ctrd_event {
	char namespace[CTRD_NAME_MAX + 1];
	char topic[CTRD_TOPIC_MAX + 1];
	enum ctrd_event_kind kind;
	char container_id[CTRD_NAME_MAX + 1];
	char exec_id[CTRD_NAME_MAX + 1];   /* TaskExit.id, TaskDelete.id */
	uint32_t pid;
};

/* Decodes an Envelope and, for the five event types above, its event.
 * Other events get kind CTRD_EV_OTHER.  Returns 0, a PB_ERR_ value or a
 * CTRD_ERR_ value. */
int ctrd_parse_envelope(const uint8_t *msg, size_t len, struct ctrd_event *ev);

/* Calls cb for each namespace name in a ListNamespacesResponse. */
typedef int ctrd_name_cb(void *ctx, const char *name);
int ctrd_parse_namespaces(const uint8_t *msg, size_t len, ctrd_name_cb *cb, void *ctx);

/* Calls cb for each Process in a ListTasksResponse with the container's
 * id: container_id, or id when container_id is empty (containerd 1.6
 * fills only id), and its status. */
typedef int ctrd_task_cb(void *ctx, const char *container_id, uint32_t pid, int status);
int ctrd_parse_tasks(const uint8_t *msg, size_t len, ctrd_task_cb *cb, void *ctx);

/* The labels of a container that carry nerdctl's port data; pointers into
 * the message, NULL when the label is absent. */
struct ctrd_container {
	char id[CTRD_NAME_MAX + 1];
	const char *ports;           /* nerdctl/ports */
	size_t ports_len;
	const char *state_dir;       /* nerdctl/state-dir */
	size_t state_dir_len;
};

/* Decodes a GetContainerResponse. */
int ctrd_parse_get_container(const uint8_t *msg, size_t len, struct ctrd_container *c);

/* Request encoders; each returns the length or a negative error. */
int ctrd_encode_subscribe(uint8_t *out, size_t size, const char *const *filters, size_t count);
int ctrd_encode_get_container(uint8_t *out, size_t size, const char *id);

const char *ctrd_strerror(int err);

#endif

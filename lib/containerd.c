/* containerd message decoding and encoding; see lib/containerd.h. */
#include <string.h>

#include "containerd.h"
#include "pb.h"

static int copy_string(const struct pb_field *f, char *out, size_t size)
{
	if (f->wire != PB_LEN)
		return CTRD_ERR_TYPE;
	if (pb_field_string(f, out, size) < 0)
		return CTRD_ERR_TOOLONG;
	return 0;
}

/* Reads one task event (TaskStart, TaskExit or TaskDelete); the field
 * numbers of container_id, id and pid differ per message. */
static int parse_task_event(const uint8_t *msg, size_t len, struct ctrd_event *ev,
			    uint32_t id_field, uint32_t pid_field)
{
	struct pb_reader r;
	struct pb_field f;
	int n, err;

	pb_reader_init(&r, msg, len);
	while ((n = pb_next(&r, &f)) > 0) {
		if (f.number == 1) {
			err = copy_string(&f, ev->container_id, sizeof ev->container_id);
		} else if (f.number == id_field) {
			err = copy_string(&f, ev->exec_id, sizeof ev->exec_id);
		} else if (f.number == pid_field) {
			if (f.wire != PB_VARINT)
				return CTRD_ERR_TYPE;
			ev->pid = (uint32_t)f.value;
			err = 0;
		} else {
			err = 0;
		}
		if (err)
			return err;
	}
	if (n < 0)
		return n;
	return ev->container_id[0] ? 0 : CTRD_ERR_MISSING;
}

/* Reads the id (field 1) of ContainerUpdate or ContainerDelete. */
static int parse_container_event(const uint8_t *msg, size_t len, struct ctrd_event *ev)
{
	struct pb_reader r;
	struct pb_field f;
	int n, err;

	pb_reader_init(&r, msg, len);
	while ((n = pb_next(&r, &f)) > 0) {
		if (f.number == 1 && (err = copy_string(&f, ev->container_id, sizeof ev->container_id)))
			return err;
	}
	if (n < 0)
		return n;
	return ev->container_id[0] ? 0 : CTRD_ERR_MISSING;
}

/* Compares the message name at the end of an Any type_url, after an
 * optional "type.googleapis.com/"-style prefix (any.proto). */
static int type_is(const uint8_t *url, size_t len, const char *name)
{
	size_t start = len;

	while (start > 0 && url[start - 1] != '/')
		start--;
	return len - start == strlen(name) && !memcmp(url + start, name, len - start);
}

/* see lib/containerd.h */
int ctrd_parse_envelope(const uint8_t *msg, size_t len, struct ctrd_event *ev)
{
	struct pb_reader r, any;
	struct pb_field f;
	const uint8_t *type_url = NULL, *value = NULL;
	size_t type_len = 0, value_len = 0;
	int n, err;

	memset(ev, 0, sizeof *ev);
	pb_reader_init(&r, msg, len);
	while ((n = pb_next(&r, &f)) > 0) {
		switch (f.number) {
		case 2:
			err = copy_string(&f, ev->namespace, sizeof ev->namespace);
			break;
		case 3:
			err = copy_string(&f, ev->topic, sizeof ev->topic);
			break;
		case 4:
			if (f.wire != PB_LEN)
				return CTRD_ERR_TYPE;
			pb_reader_init(&any, f.data, f.len);
			while ((n = pb_next(&any, &f)) > 0) {
				if (f.wire != PB_LEN && (f.number == 1 || f.number == 2))
					return CTRD_ERR_TYPE;
				if (f.number == 1) {
					type_url = f.data;
					type_len = f.len;
				} else if (f.number == 2) {
					value = f.data;
					value_len = f.len;
				}
			}
			if (n < 0)
				return n;
			err = 0;
			break;
		default:
			err = 0;
		}
		if (err)
			return err;
	}
	if (n < 0)
		return n;
	if (!type_url)
		return 0;
	if (type_is(type_url, type_len, "containerd.events.TaskStart")) {
		ev->kind = CTRD_EV_TASK_START;
		return parse_task_event(value, value_len, ev, 0, 2);
	}
	if (type_is(type_url, type_len, "containerd.events.TaskExit")) {
		ev->kind = CTRD_EV_TASK_EXIT;
		return parse_task_event(value, value_len, ev, 2, 3);
	}
	if (type_is(type_url, type_len, "containerd.events.TaskDelete")) {
		ev->kind = CTRD_EV_TASK_DELETE;
		return parse_task_event(value, value_len, ev, 5, 2);
	}
	if (type_is(type_url, type_len, "containerd.events.ContainerUpdate")) {
		ev->kind = CTRD_EV_CONTAINER_UPDATE;
		return parse_container_event(value, value_len, ev);
	}
	if (type_is(type_url, type_len, "containerd.events.ContainerDelete")) {
		ev->kind = CTRD_EV_CONTAINER_DELETE;
		return parse_container_event(value, value_len, ev);
	}
	return 0;
}

/* see lib/containerd.h */
int ctrd_parse_namespaces(const uint8_t *msg, size_t len, ctrd_name_cb *cb, void *ctx)
{
	struct pb_reader r, ns;
	struct pb_field f, g;
	char name[CTRD_NAME_MAX + 1];
	int n, err;

	pb_reader_init(&r, msg, len);
	while ((n = pb_next(&r, &f)) > 0) {
		if (f.number != 1)
			continue;
		if (f.wire != PB_LEN)
			return CTRD_ERR_TYPE;
		name[0] = 0;
		pb_reader_init(&ns, f.data, f.len);
		while ((n = pb_next(&ns, &g)) > 0)
			if (g.number == 1 && (err = copy_string(&g, name, sizeof name)))
				return err;
		if (n < 0)
			return n;
		if (name[0] && cb(ctx, name))
			return CTRD_ERR_CALLBACK;
	}
	return n < 0 ? n : 0;
}

/* see lib/containerd.h */
int ctrd_parse_tasks(const uint8_t *msg, size_t len, ctrd_task_cb *cb, void *ctx)
{
	struct pb_reader r, p;
	struct pb_field f, g;
	char container_id[CTRD_NAME_MAX + 1], id[CTRD_NAME_MAX + 1];
	uint32_t pid;
	int n, err, status;

	pb_reader_init(&r, msg, len);
	while ((n = pb_next(&r, &f)) > 0) {
		if (f.number != 1)
			continue;
		if (f.wire != PB_LEN)
			return CTRD_ERR_TYPE;
		container_id[0] = id[0] = 0;
		pid = 0;
		status = 0;
		pb_reader_init(&p, f.data, f.len);
		while ((n = pb_next(&p, &g)) > 0) {
			err = 0;
			if (g.number == 1)
				err = copy_string(&g, container_id, sizeof container_id);
			else if (g.number == 2)
				err = copy_string(&g, id, sizeof id);
			else if ((g.number == 3 || g.number == 4) && g.wire != PB_VARINT)
				err = CTRD_ERR_TYPE;
			else if (g.number == 3)
				pid = (uint32_t)g.value;
			else if (g.number == 4)
				status = (int)(uint32_t)g.value;
			if (err)
				return err;
		}
		if (n < 0)
			return n;
		const char *cid = container_id[0] ? container_id : id;

		if (cid[0] && cb(ctx, cid, pid, status))
			return CTRD_ERR_CALLBACK;
	}
	return n < 0 ? n : 0;
}

/* Reads one map<string, string> entry. */
static int parse_map_entry(const struct pb_field *entry, const uint8_t **key, size_t *key_len,
			   const uint8_t **value, size_t *value_len)
{
	struct pb_reader r;
	struct pb_field f;
	int n;

	if (entry->wire != PB_LEN)
		return CTRD_ERR_TYPE;
	*key = *value = (const uint8_t *)"";
	*key_len = *value_len = 0;
	pb_reader_init(&r, entry->data, entry->len);
	while ((n = pb_next(&r, &f)) > 0) {
		if ((f.number == 1 || f.number == 2) && f.wire != PB_LEN)
			return CTRD_ERR_TYPE;
		if (f.number == 1) {
			*key = f.data;
			*key_len = f.len;
		} else if (f.number == 2) {
			*value = f.data;
			*value_len = f.len;
		}
	}
	return n < 0 ? n : 0;
}

static int key_is(const uint8_t *key, size_t len, const char *name)
{
	return len == strlen(name) && !memcmp(key, name, len);
}

/* see lib/containerd.h */
int ctrd_parse_get_container(const uint8_t *msg, size_t len, struct ctrd_container *c)
{
	struct pb_reader r, cr;
	struct pb_field f, g;
	int n, err, found = 0;

	memset(c, 0, sizeof *c);
	pb_reader_init(&r, msg, len);
	while ((n = pb_next(&r, &f)) > 0) {
		if (f.number != 1)
			continue;
		if (f.wire != PB_LEN)
			return CTRD_ERR_TYPE;
		found = 1;
		pb_reader_init(&cr, f.data, f.len);
		while ((n = pb_next(&cr, &g)) > 0) {
			if (g.number == 1) {
				if ((err = copy_string(&g, c->id, sizeof c->id)))
					return err;
			} else if (g.number == 2) {
				const uint8_t *key, *value;
				size_t key_len, value_len;

				if ((err = parse_map_entry(&g, &key, &key_len, &value, &value_len)))
					return err;
				if (key_is(key, key_len, "nerdctl/ports")) {
					c->ports = (const char *)value;
					c->ports_len = value_len;
				} else if (key_is(key, key_len, "nerdctl/state-dir")) {
					c->state_dir = (const char *)value;
					c->state_dir_len = value_len;
				}
			}
		}
		if (n < 0)
			return n;
	}
	if (n < 0)
		return n;
	return found ? 0 : CTRD_ERR_MISSING;
}

/* see lib/containerd.h */
int ctrd_encode_subscribe(uint8_t *out, size_t size, const char *const *filters, size_t count)
{
	struct pb_writer w;

	pb_writer_init(&w, out, size);
	for (size_t i = 0; i < count; i++)
		pb_put_string_field(&w, 1, filters[i]);
	return pb_writer_finish(&w);
}

/* see lib/containerd.h */
int ctrd_encode_get_container(uint8_t *out, size_t size, const char *id)
{
	struct pb_writer w;

	pb_writer_init(&w, out, size);
	pb_put_string_field(&w, 1, id);
	return pb_writer_finish(&w);
}

/* see lib/containerd.h */
const char *ctrd_strerror(int err)
{
	switch (err) {
	case CTRD_ERR_TYPE: return "field has an unexpected wire type";
	case CTRD_ERR_TOOLONG: return "string field too long";
	case CTRD_ERR_CALLBACK: return "stopped by the caller";
	case CTRD_ERR_MISSING: return "required field missing";
	default: return pb_strerror(err);
	}
}

/* Kubeconfig reader: the YAML subset that kubeconfig files use, and the
 * same document written as JSON.
 *
 * YAML accepted: block mappings and block sequences (including the
 * "key:\n- item" form at the key's indentation that kubectl writes),
 * plain, single-quoted and double-quoted scalars, '#' comments, a leading
 * "---", and the empty flow collections "{}" and "[]".  Anchors, aliases,
 * tags, block scalars ('|', '>') and non-empty flow collections are
 * rejected with the line and key where they appear.
 *
 * kubeconfig_parse follows current-context to its cluster and user and
 * fills struct kubeconfig.  It does no I/O: file forms (certificate-
 * authority, client-certificate, client-key, tokenFile) come back as paths,
 * made absolute against the kubeconfig's directory as kubectl does. */
#ifndef RDAGENT_KUBECONFIG_H
#define RDAGENT_KUBECONFIG_H

#include <stddef.h>
#include <stdint.h>

/* Limits that keep a hostile file from using unbounded memory. */
#define KUBECONFIG_SIZE_MAX (4u << 20)
#define KUBECONFIG_NODES_MAX 65536
#define KUBECONFIG_DEPTH_MAX 32

struct kubeconfig {
	char *context;            /* current-context */
	char *cluster;            /* the context's cluster name */
	char *user;               /* the context's user name, or NULL */
	char *server;             /* cluster.server, e.g. "https://127.0.0.1:6443" */
	char *tls_server_name;    /* cluster.tls-server-name, or NULL */
	int insecure;             /* cluster.insecure-skip-tls-verify */
	/* PEM text decoded from the *-data forms, or NULL. */
	uint8_t *ca_pem;
	size_t ca_pem_len;
	uint8_t *cert_pem;
	size_t cert_pem_len;
	uint8_t *key_pem;
	size_t key_pem_len;
	/* File forms, absolute paths, or NULL.  A -data form wins over the
	 * file form when both are set, as in client-go. */
	char *ca_file;
	char *cert_file;
	char *key_file;
	char *token;              /* user.token, or NULL */
	char *token_file;         /* user.tokenFile, or NULL */
};

/* Where and why parsing failed: "line 12: key 'exec': ..." */
struct kubeconfig_error {
	unsigned line;            /* 0 when not tied to a line */
	char key[64];             /* "" when not tied to a key */
	char message[192];
};

/* Parses text (len bytes, need not be NUL-terminated).  dir is the
 * kubeconfig's directory for relative paths (NULL: keep them relative).
 * Returns 0, -EINVAL with err filled, or -ENOMEM. */
int kubeconfig_parse(const char *text, size_t len, const char *dir,
		     struct kubeconfig *kc, struct kubeconfig_error *err);
void kubeconfig_free(struct kubeconfig *kc);

/* Formats err as one line into buf; returns buf. */
char *kubeconfig_strerror(const struct kubeconfig_error *err, char *buf, size_t size);

#endif

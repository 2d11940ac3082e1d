/* TLS 1.2 client on BearSSL for the Kubernetes API.
 *
 * struct tls_config contains what the kubeconfig supplies: trust anchors
 * from the CA certificates, the client certificate chain and private key,
 * and the server name to check.  struct tls_conn drives one connection's
 * BearSSL engine over a non-blocking socket that the caller polls.
 *
 * Server name check: BearSSL's minimal X.509 engine matches DNS names
 * only, so the chain is validated by it without a name and the name is
 * then checked here against the end-entity certificate's subjectAltName
 * (RFC 5280 §4.2.1.6): dNSName entries for a host name (RFC 6125 §6.4,
 * leftmost-label wildcard), iPAddress entries for an IP address.  Like
 * Go's crypto/tls since Go 1.15, the subject Common Name is never used. */
#ifndef RDAGENT_TLS_H
#define RDAGENT_TLS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <bearssl.h>

/* End-entity certificates larger than this fail the name check. */
#define TLS_CERT_MAX 16384
#define TLS_ANCHORS_MAX 32
#define TLS_CHAIN_MAX 8
#define TLS_NAME_MAX 256
#define TLS_OFFERED_MAX 512

struct tls_config {
	br_x509_trust_anchor anchors[TLS_ANCHORS_MAX];
	size_t anchor_count;
	br_x509_certificate chain[TLS_CHAIN_MAX];
	size_t chain_len;
	br_skey_decoder_context *key;     /* NULL: no client certificate */
	int insecure;                     /* skip chain and name verification */
	char name[TLS_NAME_MAX];          /* server name to check */
	int name_is_ip;
	uint8_t ip[16];
	size_t ip_len;                    /* 4 or 16 when name_is_ip */
};

void tls_config_init(struct tls_config *cfg);
void tls_config_free(struct tls_config *cfg);

/* Adds every CERTIFICATE block of pem as a trust anchor.  Returns the
 * number added, or -EINVAL with *why set, or -ENOMEM. */
int tls_config_add_ca(struct tls_config *cfg, const char *pem, size_t len, const char **why);
/* Sets the client certificate chain (every CERTIFICATE block of
 * cert_pem, end-entity first, all sent to the server) and its key (the
 * first "EC PRIVATE KEY", "PRIVATE KEY" or "RSA PRIVATE KEY" block of
 * key_pem; EC keys on P-256, P-384 or P-521).  Returns 0 or -EINVAL with
 * *why set, or -ENOMEM. */
int tls_config_set_client(struct tls_config *cfg, const char *cert_pem, size_t cert_len,
			  const char *key_pem, size_t key_len, const char **why);
/* Sets the name to check: an IPv4 or IPv6 literal (no brackets) is
 * matched against iPAddress entries, anything else against dNSName
 * entries.  Returns 0 or -EINVAL when it is empty or too long. */
int tls_config_set_name(struct tls_config *cfg, const char *name);

/* Calls cb for each dNSName (type 'D') and iPAddress (type 'I') entry of
 * the subjectAltName extension of a DER certificate.  Returns the number
 * of entries, 0 when there is no extension, or -EINVAL when the DER is
 * malformed. */
typedef void tls_san_cb(void *ctx, char type, const uint8_t *value, size_t len);
int tls_cert_san(const uint8_t *der, size_t len, tls_san_cb *cb, void *ctx);
/* RFC 6125 §6.4 match of a host name against one dNSName pattern. */
int tls_dns_match(const char *pattern, size_t pattern_len, const char *host);

/* X.509 validator that wraps br_x509_minimal and adds the name check. */
struct tls_x509 {
	const br_x509_class *vtable;
	br_x509_minimal_context minimal;
	br_x509_decoder_context decoder;  /* insecure mode: key of the EE cert */
	const struct tls_config *cfg;
	unsigned cert_index;
	uint8_t ee[TLS_CERT_MAX];
	size_t ee_len;
	int ee_overflow;
	char offered[TLS_OFFERED_MAX];    /* names in the EE cert, for errors */
};

struct tls_conn {
	br_ssl_client_context client;
	struct tls_x509 x509;
	const struct tls_config *cfg;
	int peer_closed;                  /* TCP end of input */
	unsigned char iobuf[BR_SSL_BUFSIZE_BIDI];
};

enum {
	TLS_OPEN = 0,                     /* tls_conn_pump: waiting for the socket */
	TLS_CLOSED = 1,                   /* closed cleanly or the peer sent EOF */
};

/* Starts a handshake; the conn must stay at the same address. */
int tls_conn_start(struct tls_conn *c, const struct tls_config *cfg);
/* Moves records between fd (non-blocking) and the engine until the
 * socket would block.  Returns TLS_OPEN, TLS_CLOSED, -errno for a socket
 * error, or -EPROTO for a TLS failure (see tls_conn_strerror). */
int tls_conn_pump(struct tls_conn *c, int fd);
/* EPOLLIN and/or EPOLLOUT, as the engine needs. */
uint32_t tls_conn_events(const struct tls_conn *c);
/* 1 once application data can be written (the handshake is done). */
int tls_conn_ready(const struct tls_conn *c);
/* Copies up to len bytes of received application data; returns the count. */
size_t tls_conn_read(struct tls_conn *c, void *buf, size_t len);
/* Queues up to len bytes and flushes them into records.  Returns the
 * count accepted, which is 0 before the handshake is done or while the
 * buffer is full. */
size_t tls_conn_write(struct tls_conn *c, const void *data, size_t len);
/* BearSSL error code of the connection (0 when none). */
int tls_conn_error(const struct tls_conn *c);
/* Describes the connection's error, with the expected and offered names
 * for a name mismatch.  Returns buf. */
char *tls_conn_strerror(const struct tls_conn *c, char *buf, size_t size);
/* 1 when the error is about a certificate: the server's failed
 * verification, or the server rejected ours with an alert.  Retrying
 * does not help until the configuration changes. */
int tls_error_is_certificate(int err);

#endif

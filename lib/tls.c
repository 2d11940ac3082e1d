/* see lib/tls.h */
#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "pem.h"

/* ---- DER (ITU-T X.690) ---- */

/* Reads one TLV from [*p, end): single-byte tags, definite lengths up to
 * 2^32 - 1.  Advances *p past the element. */
static int der_next(const uint8_t **p, const uint8_t *end, unsigned *tag,
		    const uint8_t **value, size_t *len)
{
	const uint8_t *q = *p;
	size_t n;

	if (end - q < 2)
		return -EINVAL;
	*tag = *q++;
	if ((*tag & 0x1f) == 0x1f)
		return -EINVAL;
	n = *q++;
	if (n & 0x80) {
		unsigned bytes = n & 0x7f;

		if (bytes == 0 || bytes > 4 || (size_t)(end - q) < bytes)
			return -EINVAL;
		n = 0;
		while (bytes--)
			n = (n << 8) | *q++;
	}
	if ((size_t)(end - q) < n)
		return -EINVAL;
	*value = q;
	*len = n;
	*p = q + n;
	return 0;
}

/* see lib/tls.h */
int tls_cert_san(const uint8_t *der, size_t len, tls_san_cb *cb, void *ctx)
{
	/* id-ce-subjectAltName, 2.5.29.17 (RFC 5280 §4.2.1.6) */
	static const uint8_t san_oid[] = { 0x55, 0x1d, 0x11 };
	const uint8_t *p = der, *end = der + len, *v, *tbs, *tbs_end;
	unsigned tag;
	size_t n;

	if (der_next(&p, end, &tag, &v, &n) || tag != 0x30)
		return -EINVAL;
	p = v;
	end = v + n;
	if (der_next(&p, end, &tag, &tbs, &n) || tag != 0x30)
		return -EINVAL;
	tbs_end = tbs + n;
	/* TBSCertificate: fields until the [3] EXPLICIT extensions. */
	p = tbs;
	while (p < tbs_end) {
		const uint8_t *exts, *exts_end;

		if (der_next(&p, tbs_end, &tag, &v, &n))
			return -EINVAL;
		if (tag != 0xa3)
			continue;
		if (der_next(&v, v + n, &tag, &exts, &n) || tag != 0x30)
			return -EINVAL;
		exts_end = exts + n;
		while (exts < exts_end) {
			const uint8_t *ext, *ext_end, *oid, *val, *names, *names_end;
			size_t oid_len, val_len;
			int count = 0;

			if (der_next(&exts, exts_end, &tag, &ext, &n) || tag != 0x30)
				return -EINVAL;
			ext_end = ext + n;
			if (der_next(&ext, ext_end, &tag, &oid, &oid_len) || tag != 0x06)
				return -EINVAL;
			if (der_next(&ext, ext_end, &tag, &val, &val_len))
				return -EINVAL;
			if (tag == 0x01 && der_next(&ext, ext_end, &tag, &val, &val_len))
				return -EINVAL;
			if (tag != 0x04)
				return -EINVAL;
			if (oid_len != sizeof(san_oid) || memcmp(oid, san_oid, sizeof(san_oid)))
				continue;
			if (der_next(&val, val + val_len, &tag, &names, &n) || tag != 0x30)
				return -EINVAL;
			names_end = names + n;
			while (names < names_end) {
				const uint8_t *name;

				if (der_next(&names, names_end, &tag, &name, &n))
					return -EINVAL;
				/* GeneralName: [2] dNSName IA5String, [7] iPAddress */
				if (tag == 0x82 || tag == 0x87) {
					if (cb)
						cb(ctx, tag == 0x82 ? 'D' : 'I', name, n);
					count++;
				}
			}
			return count;
		}
		return 0;
	}
	return 0;
}

/* see lib/tls.h */
int tls_dns_match(const char *pattern, size_t plen, const char *host)
{
	size_t hlen = strlen(host);
	const char *dot;

	if (plen && pattern[plen - 1] == '.')
		plen--;
	if (hlen && host[hlen - 1] == '.')
		hlen--;
	if (!plen || !hlen || memchr(pattern, '\0', plen))
		return 0;
	if (plen >= 2 && pattern[0] == '*' && pattern[1] == '.') {
		/* "*.example.com" matches exactly one leftmost label, and
		 * never a bare public suffix such as "*.com". */
		const char *suffix = pattern + 1;
		size_t slen = plen - 1;

		if (!memchr(suffix + 1, '.', slen - 1))
			return 0;
		dot = memchr(host, '.', hlen);
		if (!dot || dot == host)
			return 0;
		return (size_t)(host + hlen - dot) == slen && !strncasecmp(dot, suffix, slen);
	}
	return plen == hlen && !strncasecmp(pattern, host, plen);
}

/* ---- configuration ---- */

void tls_config_init(struct tls_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
}

/* see lib/tls.h */
void tls_config_free(struct tls_config *cfg)
{
	for (size_t i = 0; i < cfg->anchor_count; i++) {
		br_x509_trust_anchor *ta = &cfg->anchors[i];

		free(ta->dn.data);
		if (ta->pkey.key_type == BR_KEYTYPE_RSA) {
			free(ta->pkey.key.rsa.n);
			free(ta->pkey.key.rsa.e);
		} else {
			free(ta->pkey.key.ec.q);
		}
	}
	for (size_t i = 0; i < cfg->chain_len; i++)
		free(cfg->chain[i].data);
	free(cfg->key);
	memset(cfg, 0, sizeof(*cfg));
}

struct dn_buffer {
	uint8_t *data;
	size_t len;
	int failed;
};

static void dn_append(void *ctx, const void *buf, size_t len)
{
	struct dn_buffer *dn = ctx;
	uint8_t *d;

	if (dn->failed)
		return;
	if (!(d = realloc(dn->data, dn->len + len))) {
		dn->failed = 1;
		return;
	}
	memcpy(d + dn->len, buf, len);
	dn->data = d;
	dn->len += len;
}

static uint8_t *dup_bytes(const void *p, size_t len)
{
	uint8_t *d = malloc(len ? len : 1);

	if (d)
		memcpy(d, p, len);
	return d;
}

/* Decodes the next block with the given label (NULL: any) into a fresh
 * buffer.  Returns 1 with *der set, 0 at the end, or -errno. */
static int next_der(const char *pem, size_t len, size_t *pos, struct pem_block *blk,
		    uint8_t **der, size_t *der_len)
{
	long n;
	int r = pem_next(pem, len, pos, blk);

	if (r <= 0)
		return r;
	if (!(*der = malloc(base64_decoded_max(blk->body_len))))
		return -ENOMEM;
	n = pem_decode(blk, *der, base64_decoded_max(blk->body_len));
	if (n <= 0) {
		free(*der);
		return -EINVAL;
	}
	*der_len = (size_t)n;
	return 1;
}

static int add_anchor(struct tls_config *cfg, const uint8_t *der, size_t len, const char **why)
{
	br_x509_decoder_context dc;
	struct dn_buffer dn = { 0 };
	br_x509_trust_anchor *ta;
	const br_x509_pkey *pk;

	if (cfg->anchor_count == TLS_ANCHORS_MAX) {
		*why = "more than 32 CA certificates";
		return -EINVAL;
	}
	br_x509_decoder_init(&dc, dn_append, &dn);
	br_x509_decoder_push(&dc, der, len);
	pk = br_x509_decoder_get_pkey(&dc);
	if (!pk || dn.failed) {
		free(dn.data);
		*why = dn.failed ? "out of memory" : "a CA certificate cannot be decoded";
		return dn.failed ? -ENOMEM : -EINVAL;
	}
	ta = &cfg->anchors[cfg->anchor_count];
	memset(ta, 0, sizeof(*ta));
	ta->dn.data = dn.data;
	ta->dn.len = dn.len;
	ta->flags = br_x509_decoder_isCA(&dc) ? BR_X509_TA_CA : 0;
	ta->pkey.key_type = pk->key_type;
	if (pk->key_type == BR_KEYTYPE_RSA) {
		ta->pkey.key.rsa.n = dup_bytes(pk->key.rsa.n, pk->key.rsa.nlen);
		ta->pkey.key.rsa.nlen = pk->key.rsa.nlen;
		ta->pkey.key.rsa.e = dup_bytes(pk->key.rsa.e, pk->key.rsa.elen);
		ta->pkey.key.rsa.elen = pk->key.rsa.elen;
	} else {
		ta->pkey.key.ec.curve = pk->key.ec.curve;
		ta->pkey.key.ec.q = dup_bytes(pk->key.ec.q, pk->key.ec.qlen);
		ta->pkey.key.ec.qlen = pk->key.ec.qlen;
	}
	/* Counted before the allocation check so tls_config_free frees it. */
	cfg->anchor_count++;
	if (pk->key_type == BR_KEYTYPE_RSA ? (!ta->pkey.key.rsa.n || !ta->pkey.key.rsa.e)
					   : !ta->pkey.key.ec.q) {
		*why = "out of memory";
		return -ENOMEM;
	}
	return 0;
}

/* see lib/tls.h */
int tls_config_add_ca(struct tls_config *cfg, const char *pem, size_t len, const char **why)
{
	struct pem_block blk;
	size_t pos = 0;
	int added = 0, r;
	uint8_t *der;
	size_t der_len;

	while ((r = next_der(pem, len, &pos, &blk, &der, &der_len)) == 1) {
		if (strcmp(blk.label, "CERTIFICATE")) {
			free(der);
			continue;
		}
		r = add_anchor(cfg, der, der_len, why);
		free(der);
		if (r)
			return r;
		added++;
	}
	if (r < 0) {
		*why = r == -ENOMEM ? "out of memory" : "invalid PEM in the CA certificates";
		return r;
	}
	if (!added) {
		*why = "no CERTIFICATE block in the CA certificates";
		return -EINVAL;
	}
	return added;
}

static int load_key(struct tls_config *cfg, const char *pem, size_t len, const char **why)
{
	struct pem_block blk;
	size_t pos = 0;
	uint8_t *der;
	size_t der_len;
	int r;

	while ((r = next_der(pem, len, &pos, &blk, &der, &der_len)) == 1) {
		int err, type;

		if (!strcmp(blk.label, "ENCRYPTED PRIVATE KEY")) {
			free(der);
			*why = "the client key is encrypted";
			return -EINVAL;
		}
		if (strcmp(blk.label, "EC PRIVATE KEY") && strcmp(blk.label, "PRIVATE KEY") &&
		    strcmp(blk.label, "RSA PRIVATE KEY")) {
			free(der);
			continue;
		}
		if (!(cfg->key = malloc(sizeof(*cfg->key)))) {
			free(der);
			return -ENOMEM;
		}
		/* br_skey_decoder reads RSAPrivateKey (RFC 8017 A.1.2),
		 * ECPrivateKey (RFC 5915) and PKCS#8 (RFC 5208) wrapping
		 * either, and copies the key into its context. */
		br_skey_decoder_init(cfg->key);
		br_skey_decoder_push(cfg->key, der, der_len);
		free(der);
		err = br_skey_decoder_last_error(cfg->key);
		type = br_skey_decoder_key_type(cfg->key);
		if (err || !type) {
			*why = "the client key cannot be decoded (RSA, or EC on a supported curve, expected)";
			return -EINVAL;
		}
		if (type == BR_KEYTYPE_EC) {
			int curve = br_skey_decoder_get_ec(cfg->key)->curve;

			if (curve != BR_EC_secp256r1 && curve != BR_EC_secp384r1 && curve != BR_EC_secp521r1) {
				*why = "the client key's curve is not P-256, P-384 or P-521";
				return -EINVAL;
			}
		}
		return 0;
	}
	*why = r < 0 ? "invalid PEM in the client key" : "no private key block in the client key";
	return r < 0 ? r : -EINVAL;
}

/* see lib/tls.h */
int tls_config_set_client(struct tls_config *cfg, const char *cert_pem, size_t cert_len,
			  const char *key_pem, size_t key_len, const char **why)
{
	struct pem_block blk;
	size_t pos = 0;
	uint8_t *der;
	size_t der_len;
	int r;

	while ((r = next_der(cert_pem, cert_len, &pos, &blk, &der, &der_len)) == 1) {
		if (strcmp(blk.label, "CERTIFICATE")) {
			free(der);
			continue;
		}
		if (cfg->chain_len == TLS_CHAIN_MAX) {
			free(der);
			*why = "more than 8 client certificates";
			return -EINVAL;
		}
		cfg->chain[cfg->chain_len].data = der;
		cfg->chain[cfg->chain_len].data_len = der_len;
		cfg->chain_len++;
	}
	if (r < 0) {
		*why = "invalid PEM in the client certificate";
		return r;
	}
	if (!cfg->chain_len) {
		*why = "no CERTIFICATE block in the client certificate";
		return -EINVAL;
	}
	return load_key(cfg, key_pem, key_len, why);
}

/* see lib/tls.h */
int tls_config_set_name(struct tls_config *cfg, const char *name)
{
	size_t n = strlen(name);

	if (!n || n >= sizeof(cfg->name))
		return -EINVAL;
	memcpy(cfg->name, name, n + 1);
	cfg->name_is_ip = 0;
	if (inet_pton(AF_INET, name, cfg->ip) == 1) {
		cfg->name_is_ip = 1;
		cfg->ip_len = 4;
	} else if (inet_pton(AF_INET6, name, cfg->ip) == 1) {
		cfg->name_is_ip = 1;
		cfg->ip_len = 16;
	}
	return 0;
}

/* ---- X.509 validator with the name check ---- */

struct name_check {
	const struct tls_config *cfg;
	char *offered;
	size_t offered_len;
	int matched;
};

static void offered_append(struct name_check *nc, const char *text)
{
	size_t n = strlen(text), room = TLS_OFFERED_MAX - nc->offered_len;

	if (nc->offered_len && room > 2) {
		memcpy(nc->offered + nc->offered_len, ", ", 2);
		nc->offered_len += 2;
		room -= 2;
	}
	if (n >= room)
		n = room ? room - 1 : 0;
	memcpy(nc->offered + nc->offered_len, text, n);
	nc->offered_len += n;
	nc->offered[nc->offered_len] = '\0';
}

static void check_san(void *ctx, char type, const uint8_t *value, size_t len)
{
	struct name_check *nc = ctx;
	char text[TLS_NAME_MAX + 8];

	if (type == 'D') {
		size_t n = len < TLS_NAME_MAX ? len : TLS_NAME_MAX - 1;

		memcpy(text, "DNS:", 4);
		for (size_t i = 0; i < n; i++)
			text[4 + i] = (value[i] >= 0x20 && value[i] < 0x7f) ? (char)value[i] : '?';
		text[4 + n] = '\0';
		if (!nc->cfg->name_is_ip && tls_dns_match((const char *)value, len, nc->cfg->name))
			nc->matched = 1;
	} else {
		char addr[INET6_ADDRSTRLEN] = "?";

		if (len == 4 || len == 16)
			inet_ntop(len == 4 ? AF_INET : AF_INET6, value, addr, sizeof(addr));
		snprintf(text, sizeof(text), "IP:%s", addr);
		if (nc->cfg->name_is_ip && len == nc->cfg->ip_len && !memcmp(value, nc->cfg->ip, len))
			nc->matched = 1;
	}
	offered_append(nc, text);
}

static void x509_start_chain(const br_x509_class **ctx, const char *server_name)
{
	struct tls_x509 *x = (struct tls_x509 *)(void *)ctx;

	x->cert_index = 0;
	x->ee_len = 0;
	x->ee_overflow = 0;
	x->offered[0] = '\0';
	if (x->cfg->insecure)
		br_x509_decoder_init(&x->decoder, NULL, NULL);
	else
		x->minimal.vtable->start_chain(&x->minimal.vtable, NULL);
}

static void x509_start_cert(const br_x509_class **ctx, uint32_t length)
{
	struct tls_x509 *x = (struct tls_x509 *)(void *)ctx;

	if (!x->cfg->insecure)
		x->minimal.vtable->start_cert(&x->minimal.vtable, length);
}

static void x509_append(const br_x509_class **ctx, const unsigned char *buf, size_t len)
{
	struct tls_x509 *x = (struct tls_x509 *)(void *)ctx;

	if (x->cert_index == 0) {
		if (len > sizeof(x->ee) - x->ee_len) {
			x->ee_overflow = 1;
		} else {
			memcpy(x->ee + x->ee_len, buf, len);
			x->ee_len += len;
		}
		if (x->cfg->insecure)
			br_x509_decoder_push(&x->decoder, buf, len);
	}
	if (!x->cfg->insecure)
		x->minimal.vtable->append(&x->minimal.vtable, buf, len);
}

static void x509_end_cert(const br_x509_class **ctx)
{
	struct tls_x509 *x = (struct tls_x509 *)(void *)ctx;

	if (!x->cfg->insecure)
		x->minimal.vtable->end_cert(&x->minimal.vtable);
	x->cert_index++;
}

static unsigned x509_end_chain(const br_x509_class **ctx)
{
	struct tls_x509 *x = (struct tls_x509 *)(void *)ctx;
	struct name_check nc = { .cfg = x->cfg, .offered = x->offered };
	unsigned r;

	if (x->cfg->insecure)
		return br_x509_decoder_get_pkey(&x->decoder) ? 0 : BR_ERR_X509_INVALID_VALUE;
	r = x->minimal.vtable->end_chain(&x->minimal.vtable);
	if (r)
		return r;
	if (x->ee_overflow || tls_cert_san(x->ee, x->ee_len, check_san, &nc) < 0 || !nc.matched)
		return BR_ERR_X509_BAD_SERVER_NAME;
	return 0;
}

static const br_x509_pkey *x509_get_pkey(const br_x509_class *const *ctx, unsigned *usages)
{
	struct tls_x509 *x = (struct tls_x509 *)(void *)ctx;

	if (x->cfg->insecure) {
		if (usages)
			*usages = BR_KEYTYPE_KEYX | BR_KEYTYPE_SIGN;
		return br_x509_decoder_get_pkey(&x->decoder);
	}
	return x->minimal.vtable->get_pkey(&x->minimal.vtable, usages);
}

static const br_x509_class tls_x509_vtable = {
	sizeof(struct tls_x509),
	x509_start_chain,
	x509_start_cert,
	x509_append,
	x509_end_cert,
	x509_end_chain,
	x509_get_pkey,
};

/* ---- connection ---- */

/* Sets up TLS 1.2 with ECDHE AEAD suites (RFC 5289, RFC 7905) and SHA-2
 * only, as Go and OpenSSL servers offer: less code than _init_full. */
static void init_profile(struct tls_conn *c, const struct tls_config *cfg)
{
	static const uint16_t suites[] = {
		BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
		BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
		BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
		BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	};
	static const br_hash_class *const hashes[] = {
		&br_sha224_vtable, &br_sha256_vtable, &br_sha384_vtable, &br_sha512_vtable,
	};
	br_ssl_engine_context *eng = &c->client.eng;
	br_x509_minimal_context *xc = &c->x509.minimal;

	br_ssl_client_zero(&c->client);
	br_ssl_engine_set_versions(eng, BR_TLS12, BR_TLS12);
	br_ssl_engine_set_suites(eng, suites, sizeof(suites) / sizeof(suites[0]));
	br_x509_minimal_init(xc, &br_sha256_vtable, cfg->anchors, cfg->anchor_count);
	for (size_t i = 0; i < sizeof(hashes) / sizeof(hashes[0]); i++) {
		int id = (int)((hashes[i]->desc >> BR_HASHDESC_ID_OFF) & BR_HASHDESC_ID_MASK);

		br_ssl_engine_set_hash(eng, id, hashes[i]);
		br_x509_minimal_set_hash(xc, id, hashes[i]);
	}
	br_x509_minimal_set_rsa(xc, br_rsa_pkcs1_vrfy_get_default());
	br_x509_minimal_set_ecdsa(xc, br_ec_get_default(), br_ecdsa_vrfy_asn1_get_default());
	/* ServerKeyExchange signatures (RSA or ECDSA) and ECDHE itself. */
	br_ssl_engine_set_default_rsavrfy(eng);
	br_ssl_engine_set_default_ecdsa(eng);
	br_ssl_engine_set_prf_sha256(eng, &br_tls12_sha256_prf);
	br_ssl_engine_set_prf_sha384(eng, &br_tls12_sha384_prf);
	br_ssl_engine_set_default_aes_gcm(eng);
	br_ssl_engine_set_default_chapol(eng);
}

/* see lib/tls.h */
int tls_conn_start(struct tls_conn *c, const struct tls_config *cfg)
{
	br_ssl_engine_context *eng = &c->client.eng;

	c->cfg = cfg;
	c->peer_closed = 0;
	init_profile(c, cfg);
	c->x509.vtable = &tls_x509_vtable;
	c->x509.cfg = cfg;
	br_ssl_engine_set_x509(eng, &c->x509.vtable);
	br_ssl_engine_set_buffer(eng, c->iobuf, sizeof(c->iobuf), 1);
	if (cfg->key) {
		int type = br_skey_decoder_key_type(cfg->key);

		if (type == BR_KEYTYPE_RSA)
			br_ssl_client_set_single_rsa(&c->client, cfg->chain, cfg->chain_len,
						     br_skey_decoder_get_rsa(cfg->key),
						     br_rsa_pkcs1_sign_get_default());
		else
			br_ssl_client_set_single_ec(&c->client, cfg->chain, cfg->chain_len,
						    br_skey_decoder_get_ec(cfg->key), BR_KEYTYPE_SIGN,
						    BR_KEYTYPE_EC, br_ec_get_default(),
						    br_ecdsa_sign_asn1_get_default());
	}
	/* SNI carries host names only (RFC 6066 §3), never an IP literal. */
	if (!br_ssl_client_reset(&c->client, cfg->name_is_ip ? NULL : cfg->name, 0))
		return -EPROTO;
	return 0;
}

/* see lib/tls.h */
int tls_conn_pump(struct tls_conn *c, int fd)
{
	br_ssl_engine_context *eng = &c->client.eng;

	for (;;) {
		unsigned state = br_ssl_engine_current_state(eng);
		int progress = 0;
		unsigned char *buf;
		size_t len;
		ssize_t n;

		if (state & BR_SSL_CLOSED)
			return br_ssl_engine_last_error(eng) ? -EPROTO : TLS_CLOSED;
		if (state & BR_SSL_SENDREC) {
			buf = br_ssl_engine_sendrec_buf(eng, &len);
			n = send(fd, buf, len, MSG_NOSIGNAL);
			if (n > 0) {
				br_ssl_engine_sendrec_ack(eng, (size_t)n);
				progress = 1;
			} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
				return -errno;
			}
		}
		if ((state & BR_SSL_RECVREC) && !c->peer_closed) {
			buf = br_ssl_engine_recvrec_buf(eng, &len);
			n = recv(fd, buf, len, 0);
			if (n > 0) {
				br_ssl_engine_recvrec_ack(eng, (size_t)n);
				progress = 1;
			} else if (n == 0) {
				/* TCP end without close_notify: the caller's HTTP
				 * framing shows whether the response was cut. */
				c->peer_closed = 1;
				return TLS_CLOSED;
			} else if (errno != EAGAIN && errno != EINTR) {
				return -errno;
			}
		}
		if (!progress)
			return TLS_OPEN;
	}
}

/* see lib/tls.h */
uint32_t tls_conn_events(const struct tls_conn *c)
{
	unsigned state = br_ssl_engine_current_state(&c->client.eng);
	uint32_t ev = 0;

	if (state & BR_SSL_SENDREC)
		ev |= EPOLLOUT;
	if (state & BR_SSL_RECVREC)
		ev |= EPOLLIN;
	return ev;
}

/* see lib/tls.h */
int tls_conn_ready(const struct tls_conn *c)
{
	return (br_ssl_engine_current_state(&c->client.eng) & BR_SSL_SENDAPP) != 0;
}

/* see lib/tls.h */
size_t tls_conn_read(struct tls_conn *c, void *buf, size_t len)
{
	br_ssl_engine_context *eng = &c->client.eng;
	unsigned char *p;
	size_t avail;

	if (!(br_ssl_engine_current_state(eng) & BR_SSL_RECVAPP))
		return 0;
	p = br_ssl_engine_recvapp_buf(eng, &avail);
	if (avail > len)
		avail = len;
	memcpy(buf, p, avail);
	br_ssl_engine_recvapp_ack(eng, avail);
	return avail;
}

/* see lib/tls.h */
size_t tls_conn_write(struct tls_conn *c, const void *data, size_t len)
{
	br_ssl_engine_context *eng = &c->client.eng;
	unsigned char *p;
	size_t room;

	if (!(br_ssl_engine_current_state(eng) & BR_SSL_SENDAPP))
		return 0;
	p = br_ssl_engine_sendapp_buf(eng, &room);
	if (room > len)
		room = len;
	memcpy(p, data, room);
	br_ssl_engine_sendapp_ack(eng, room);
	br_ssl_engine_flush(eng, 0);
	return room;
}

/* see lib/tls.h */
int tls_conn_error(const struct tls_conn *c)
{
	return br_ssl_engine_last_error(&c->client.eng);
}

/* see lib/tls.h */
int tls_error_is_certificate(int err)
{
	int alert = err - BR_ERR_RECV_FATAL_ALERT;

	if (err > BR_ERR_X509_OK && err <= BR_ERR_X509_NOT_TRUSTED)
		return 1;
	/* The server's alerts that reject our certificate (RFC 5246 §7.2,
	 * RFC 8446 §6.2 for certificate_required). */
	return alert == 42 || alert == 43 || alert == 44 || alert == 45 || alert == 46 ||
	       alert == 48 || alert == 116;
}

static const char *alert_name(int alert)
{
	/* TLS 1.2 AlertDescription values, RFC 5246 §7.2 */
	switch (alert) {
	case 40: return "handshake_failure";
	case 42: return "bad_certificate";
	case 43: return "unsupported_certificate";
	case 45: return "certificate_expired";
	case 46: return "certificate_unknown";
	case 48: return "unknown_ca";
	case 49: return "access_denied";
	case 70: return "protocol_version";
	case 80: return "internal_error";
	case 112: return "unrecognized_name";
	case 116: return "certificate_required";
	}
	return "alert";
}

static const char *error_text(int err)
{
	switch (err) {
	case BR_ERR_OK: return "no error";
	case BR_ERR_UNSUPPORTED_VERSION: return "the server does not support TLS 1.2";
	case BR_ERR_BAD_CIPHER_SUITE: return "no common cipher suite";
	case BR_ERR_BAD_SIGNATURE: return "the server's handshake signature is invalid";
	case BR_ERR_WRONG_KEY_USAGE: return "the server certificate's key usage does not allow TLS";
	case BR_ERR_NO_CLIENT_AUTH: return "the server requested a client certificate and none is configured";
	case BR_ERR_IO: return "I/O error";
	case BR_ERR_X509_EXPIRED: return "the server certificate is expired or not yet valid";
	case BR_ERR_X509_NOT_TRUSTED: return "the server certificate is not signed by the kubeconfig's certificate authority";
	case BR_ERR_X509_BAD_SIGNATURE: return "a signature in the server's certificate chain is invalid";
	case BR_ERR_X509_NOT_CA: return "an issuer in the server's chain is not a CA";
	case BR_ERR_X509_CRITICAL_EXTENSION: return "the server certificate has an unsupported critical extension";
	case BR_ERR_X509_FORBIDDEN_KEY_USAGE: return "the server certificate's key usage forbids TLS server authentication";
	case BR_ERR_X509_WEAK_PUBLIC_KEY: return "the server certificate's key is too weak";
	case BR_ERR_X509_UNSUPPORTED: return "the server certificate uses an unsupported algorithm";
	case BR_ERR_X509_EMPTY_CHAIN: return "the server sent no certificate";
	case BR_ERR_X509_TIME_UNKNOWN: return "the current time is unknown";
	}
	if (err > BR_ERR_X509_OK && err <= BR_ERR_X509_NOT_TRUSTED)
		return "the server certificate cannot be decoded";
	return NULL;
}

/* see lib/tls.h */
char *tls_conn_strerror(const struct tls_conn *c, char *buf, size_t size)
{
	int err = tls_conn_error(c);
	const char *text = error_text(err);

	if (err == BR_ERR_X509_BAD_SERVER_NAME) {
		if (c->x509.ee_overflow)
			snprintf(buf, size, "the server certificate is larger than %d bytes, so its names cannot be checked",
				 TLS_CERT_MAX);
		else
			snprintf(buf, size, "the server certificate does not match the expected %s %s; it names %s",
				 c->cfg->name_is_ip ? "IP address" : "host name", c->cfg->name,
				 c->x509.offered[0] ? c->x509.offered : "no DNS or IP subject alternative name");
	} else if (err >= BR_ERR_RECV_FATAL_ALERT && err < BR_ERR_SEND_FATAL_ALERT) {
		int alert = err - BR_ERR_RECV_FATAL_ALERT;

		snprintf(buf, size, "the server sent TLS alert %d (%s)%s", alert, alert_name(alert),
			 (alert == 42 || alert == 48 || alert == 116 || alert == 46)
			 ? "; it rejected the client certificate" : "");
	} else if (err >= BR_ERR_SEND_FATAL_ALERT) {
		int alert = err - BR_ERR_SEND_FATAL_ALERT;

		snprintf(buf, size, "TLS handshake failed; sent alert %d (%s)", alert, alert_name(alert));
	} else if (text) {
		snprintf(buf, size, "%s", text);
	} else {
		snprintf(buf, size, "TLS error %d (BearSSL)", err);
	}
	return buf;
}

/* Unit tests for lib/pem: base64 (RFC 4648 §10 vectors and the malformed
 * cases around padding and whitespace) and PEM block scanning. */
#include "unit.h"

#include <errno.h>
#include <string.h>

#include "pem.h"

static long decode(const char *in, char *out, size_t size)
{
	long n = base64_decode(in, strlen(in), (uint8_t *)out, size);

	if (n >= 0 && (size_t)n < size)
		out[n] = '\0';
	return n;
}

static void base64_rfc4648_vectors(void **state)
{
	static const char *const vectors[][2] = {
		{ "", "" }, { "Zg==", "f" }, { "Zm8=", "fo" }, { "Zm9v", "foo" },
		{ "Zm9vYg==", "foob" }, { "Zm9vYmE=", "fooba" }, { "Zm9vYmFy", "foobar" },
	};
	char out[16];

	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		assert_int_equal(decode(vectors[i][0], out, sizeof(out)), strlen(vectors[i][1]));
		assert_string_equal(out, vectors[i][1]);
	}
}

static void base64_whitespace_and_unpadded(void **state)
{
	char out[16];

	assert_int_equal(decode("Zm9v\r\nYm Fy\n", out, sizeof(out)), 6);
	assert_string_equal(out, "foobar");
	assert_int_equal(decode("Zm8", out, sizeof(out)), 2);
	assert_string_equal(out, "fo");
	assert_int_equal(decode("Zg", out, sizeof(out)), 1);
}

static void base64_rejects_malformed(void **state)
{
	char out[16];

	assert_int_equal(decode("Zm9v!", out, sizeof(out)), -EINVAL);
	assert_int_equal(decode("Z===", out, sizeof(out)), -EINVAL);
	assert_int_equal(decode("Zg=", out, sizeof(out)), -EINVAL);
	assert_int_equal(decode("Zg==Zg==", out, sizeof(out)), -EINVAL);
	assert_int_equal(decode("Z", out, sizeof(out)), -EINVAL);
	assert_int_equal(decode("Zm9-", out, sizeof(out)), -EINVAL);
}

static void base64_reports_small_buffer(void **state)
{
	char out[2];

	assert_int_equal(decode("Zm9v", out, sizeof(out)), -ENOSPC);
	assert_true(base64_decoded_max(4) >= 3);
}

static const char two_blocks[] =
	"Subject: CN=leaf\n"
	"-----BEGIN CERTIFICATE-----\n"
	"Zm9v\n"
	"-----END CERTIFICATE-----\n"
	"explanatory text\n"
	"-----BEGIN EC PRIVATE KEY-----  \r\n"
	"Zm9v\r\n"
	"YmFy\r\n"
	"-----END EC PRIVATE KEY-----";

static void pem_finds_each_block(void **state)
{
	struct pem_block blk;
	size_t pos = 0;
	uint8_t out[16];

	assert_int_equal(pem_next(two_blocks, strlen(two_blocks), &pos, &blk), 1);
	assert_string_equal(blk.label, "CERTIFICATE");
	assert_int_equal(blk.line, 2);
	assert_int_equal(pem_decode(&blk, out, sizeof(out)), 3);
	assert_memory_equal(out, "foo", 3);
	assert_int_equal(pem_next(two_blocks, strlen(two_blocks), &pos, &blk), 1);
	assert_string_equal(blk.label, "EC PRIVATE KEY");
	assert_int_equal(blk.line, 6);
	assert_int_equal(pem_decode(&blk, out, sizeof(out)), 6);
	assert_memory_equal(out, "foobar", 6);
	assert_int_equal(pem_next(two_blocks, strlen(two_blocks), &pos, &blk), 0);
}

static void pem_rejects_broken_blocks(void **state)
{
	static const char *const bad[] = {
		"-----BEGIN CERTIFICATE-----\nZm9v\n",
		"-----BEGIN CERTIFICATE-----\nZm9v\n-----END PRIVATE KEY-----\n",
		"-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\nZm9v\n-----END RSA PRIVATE KEY-----\n",
		"-----BEGIN AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA-----\n",
	};
	struct pem_block blk;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t pos = 0;

		assert_int_equal(pem_next(bad[i], strlen(bad[i]), &pos, &blk), -EINVAL);
	}
}

static void pem_without_blocks(void **state)
{
	struct pem_block blk;
	size_t pos = 0;

	assert_int_equal(pem_next("just text\n", 10, &pos, &blk), 0);
	assert_int_equal(pem_next("", 0, &pos, &blk), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(base64_rfc4648_vectors),
		cmocka_unit_test(base64_whitespace_and_unpadded),
		cmocka_unit_test(base64_rejects_malformed),
		cmocka_unit_test(base64_reports_small_buffer),
		cmocka_unit_test(pem_finds_each_block),
		cmocka_unit_test(pem_rejects_broken_blocks),
		cmocka_unit_test(pem_without_blocks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

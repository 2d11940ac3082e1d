/* HPACK decoder against every example of RFC 7541 Appendix C, plus
 * integer, string, Huffman and table-size edge cases. */
#include <stdio.h>
#include <string.h>

#include "unit.h"
#include "hpack.h"

static struct hpack_decoder dec;

struct collected {
	char text[4096];
	size_t len;
};

static int collect(void *ctx, const char *name, size_t name_len, const char *value, size_t value_len)
{
	struct collected *c = ctx;
	int n = snprintf(c->text + c->len, sizeof c->text - c->len, "%.*s: %.*s\n",
			 (int)name_len, name, (int)value_len, value);

	c->len += (size_t)n;
	return 0;
}

/* Decodes hex (spaces ignored) into out; returns the length. */
static size_t unhex(const char *hex, uint8_t *out)
{
	size_t n = 0;
	unsigned v;

	while (*hex) {
		if (*hex == ' ') {
			hex++;
			continue;
		}
		sscanf(hex, "%2x", &v);
		out[n++] = (uint8_t)v;
		hex += 2;
	}
	return n;
}

static void expect_block(const char *hex, const char *headers, size_t table_size)
{
	uint8_t block[512];
	size_t len = unhex(hex, block);
	struct collected c = { .len = 0 };

	c.text[0] = 0;
	assert_int_equal(hpack_decode(&dec, block, len, collect, &c), 0);
	assert_string_equal(c.text, headers);
	assert_int_equal(dec.size, table_size);
}

/* RFC 7541 C.1 */
static void test_integer_examples(void **state)
{
	uint8_t ten[] = { 0xea };            /* 3 flag bits, then 10 on 5 bits */
	uint8_t big[] = { 0x1f, 0x9a, 0x0a };
	uint8_t fortytwo[] = { 0x2a };
	uint32_t v;

	assert_int_equal(hpack_decode_int(ten, 1, 5, &v), 1);
	assert_int_equal(v, 10);
	assert_int_equal(hpack_decode_int(big, 3, 5, &v), 3);
	assert_int_equal(v, 1337);
	assert_int_equal(hpack_decode_int(fortytwo, 1, 8, &v), 1);
	assert_int_equal(v, 42);
}

static void test_integer_limits(void **state)
{
	uint8_t truncated[] = { 0x1f, 0x9a };
	uint8_t overflow[] = { 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f };
	uint8_t too_big[] = { 0x1f, 0xff, 0xff, 0xff, 0x7f };   /* 2^28 + 30 */
	uint32_t v;

	assert_int_equal(hpack_decode_int(truncated, 2, 5, &v), HPACK_ERR_TRUNCATED);
	assert_int_equal(hpack_decode_int(overflow, sizeof overflow, 5, &v), HPACK_ERR_INTEGER);
	assert_int_equal(hpack_decode_int(too_big, sizeof too_big, 5, &v), HPACK_ERR_INTEGER);
	assert_int_equal(hpack_decode_int(truncated, 0, 5, &v), HPACK_ERR_TRUNCATED);
}

/* RFC 7541 C.2.1 - C.2.4, each with a fresh decoder. */
static void test_field_examples(void **state)
{
	hpack_decoder_init(&dec, 4096);
	expect_block("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572",
		     "custom-key: custom-header\n", 55);
	hpack_decoder_init(&dec, 4096);
	expect_block("040c 2f73 616d 706c 652f 7061 7468", ":path: /sample/path\n", 0);
	hpack_decoder_init(&dec, 4096);
	expect_block("1008 7061 7373 776f 7264 0673 6563 7265 74", "password: secret\n", 0);
	hpack_decoder_init(&dec, 4096);
	expect_block("82", ":method: GET\n", 0);
}

static const char *const request_lists[3] = {
	":method: GET\n:scheme: http\n:path: /\n:authority: www.example.com\n",
	":method: GET\n:scheme: http\n:path: /\n:authority: www.example.com\ncache-control: no-cache\n",
	":method: GET\n:scheme: https\n:path: /index.html\n:authority: www.example.com\ncustom-key: custom-value\n",
};

/* RFC 7541 C.3 */
static void test_requests_plain(void **state)
{
	hpack_decoder_init(&dec, 4096);
	expect_block("8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d", request_lists[0], 57);
	expect_block("8286 84be 5808 6e6f 2d63 6163 6865", request_lists[1], 110);
	expect_block("8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
		     request_lists[2], 164);
	assert_int_equal(dec.count, 3);
}

/* RFC 7541 C.4 */
static void test_requests_huffman(void **state)
{
	hpack_decoder_init(&dec, 4096);
	expect_block("8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff", request_lists[0], 57);
	expect_block("8286 84be 5886 a8eb 1064 9cbf", request_lists[1], 110);
	expect_block("8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
		     request_lists[2], 164);
}

static const char *const response_lists[3] = {
	":status: 302\ncache-control: private\ndate: Mon, 21 Oct 2013 20:13:21 GMT\n"
	"location: https://www.example.com\n",
	":status: 307\ncache-control: private\ndate: Mon, 21 Oct 2013 20:13:21 GMT\n"
	"location: https://www.example.com\n",
	":status: 200\ncache-control: private\ndate: Mon, 21 Oct 2013 20:13:22 GMT\n"
	"location: https://www.example.com\ncontent-encoding: gzip\n"
	"set-cookie: foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1\n",
};

/* RFC 7541 C.5: SETTINGS_HEADER_TABLE_SIZE 256, so entries are evicted. */
static void test_responses_plain(void **state)
{
	hpack_decoder_init(&dec, 256);
	expect_block("4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133"
		     "2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70"
		     "6c65 2e63 6f6d", response_lists[0], 222);
	expect_block("4803 3330 37c1 c0bf", response_lists[1], 222);
	expect_block("88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d"
		     "54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049"
		     "5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e"
		     "3d31", response_lists[2], 215);
	assert_int_equal(dec.count, 3);
}

/* RFC 7541 C.6 */
static void test_responses_huffman(void **state)
{
	hpack_decoder_init(&dec, 256);
	expect_block("4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6"
		     "2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3", response_lists[0], 222);
	expect_block("4883 640e ffc1 c0bf", response_lists[1], 222);
	expect_block("88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab"
		     "77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f"
		     "9587 3160 65c0 03ed 4ee5 b106 3d50 07", response_lists[2], 215);
}

/* Codes derived from the lengths match RFC 7541 Appendix B's hex column. */
static void test_huffman_codes(void **state)
{
	static const struct { unsigned char sym; uint32_t code; int len; } samples[] = {
		{ 0, 0x1ff8, 13 }, { '0', 0x0, 5 }, { ' ', 0x14, 6 }, { '$', 0x1ff9, 13 },
		{ '\\', 0x7fff0, 19 }, { 127, 0xffffffc, 28 }, { 203, 0x7ffffde, 27 },
		{ 220, 0xffffffd, 28 }, { 249, 0xffffffe, 28 }, { 255, 0x3ffffee, 26 },
		{ 10, 0x3ffffffc, 30 }, { 'z', 0x7b, 7 }, { '~', 0x1ffd, 13 },
	};
	uint8_t out[8];

	for (size_t i = 0; i < sizeof samples / sizeof *samples; i++) {
		char s = (char)samples[i].sym;
		int n = hpack_huffman_encode(&s, 1, out, sizeof out);
		uint64_t bits = 0;

		assert_int_equal(n, (samples[i].len + 7) / 8);
		for (int k = 0; k < n; k++)
			bits = bits << 8 | out[k];
		assert_int_equal(bits >> (n * 8 - samples[i].len), samples[i].code);
	}
}

static void test_huffman_round_trip(void **state)
{
	char all[256], back[256];
	uint8_t coded[1024];

	for (int i = 0; i < 256; i++)
		all[i] = (char)i;
	int n = hpack_huffman_encode(all, sizeof all, coded, sizeof coded);

	assert_true(n > 0);
	assert_int_equal(hpack_huffman_decode(coded, (size_t)n, back, sizeof back), 256);
	assert_memory_equal(all, back, 256);
}

static void test_huffman_invalid(void **state)
{
	char out[16];
	uint8_t eos[] = { 0xff, 0xff, 0xff, 0xff };      /* EOS (30 ones) + 2 ones */
	uint8_t zero_pad[] = { 0x00 };                    /* '0' then 3 zero bits */
	uint8_t long_pad[] = { 0x1f, 0xff };              /* '0' then 11 one bits */
	uint8_t ok[] = { 0x07 };                          /* '0' then 111 */

	assert_int_equal(hpack_huffman_decode(eos, sizeof eos, out, sizeof out), HPACK_ERR_HUFFMAN);
	assert_int_equal(hpack_huffman_decode(zero_pad, 1, out, sizeof out), HPACK_ERR_HUFFMAN);
	assert_int_equal(hpack_huffman_decode(long_pad, 2, out, sizeof out), HPACK_ERR_HUFFMAN);
	assert_int_equal(hpack_huffman_decode(ok, 1, out, sizeof out), 1);
	assert_int_equal(out[0], '0');
	assert_int_equal(hpack_huffman_decode(ok, 1, out, 0), HPACK_ERR_TOOLONG);
}

static void test_decode_errors(void **state)
{
	uint8_t block[64];
	size_t len;

	hpack_decoder_init(&dec, 4096);
	len = unhex("be", block);   /* index 62 with an empty dynamic table */
	assert_int_equal(hpack_decode(&dec, block, len, NULL, NULL), HPACK_ERR_INDEX);
	len = unhex("80", block);   /* index 0 */
	assert_int_equal(hpack_decode(&dec, block, len, NULL, NULL), HPACK_ERR_INDEX);
	len = unhex("040c 2f73", block);   /* value shorter than its length */
	assert_int_equal(hpack_decode(&dec, block, len, NULL, NULL), HPACK_ERR_TRUNCATED);
	len = unhex("04", block);   /* no value at all */
	assert_int_equal(hpack_decode(&dec, block, len, NULL, NULL), HPACK_ERR_TRUNCATED);
	len = unhex("3fe2 1f", block);   /* size update to 4096 + 1 */
	assert_int_equal(hpack_decode(&dec, block, len, NULL, NULL), HPACK_ERR_TABLE_SIZE);
	len = unhex("82 20", block);   /* size update after a field */
	assert_int_equal(hpack_decode(&dec, block, len, NULL, NULL), HPACK_ERR_TABLE_SIZE);
	len = unhex("047f ffff ff0f", block);   /* string length above the limit */
	assert_int_equal(hpack_decode(&dec, block, len, NULL, NULL), HPACK_ERR_INTEGER);
}

static void test_table_size_update(void **state)
{
	hpack_decoder_init(&dec, 4096);
	expect_block("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572",
		     "custom-key: custom-header\n", 55);
	expect_block("20 82", ":method: GET\n", 0);   /* size 0 evicts everything */
	assert_int_equal(dec.count, 0);
	assert_int_equal(dec.max_size, 0);
	/* With max size 0, an indexed literal is not stored. */
	expect_block("4003 6162 6303 7879 7a", "abc: xyz\n", 0);
	expect_block("3fe1 1f 82", ":method: GET\n", 0);   /* back up to 4096 */
	assert_int_equal(dec.max_size, 4096);
}

static void test_entry_larger_than_table(void **state)
{
	uint8_t block[400];
	size_t pos = 0;
	struct collected c = { .len = 0 };

	hpack_decoder_init(&dec, 256);
	expect_block("4003 6162 6303 7879 7a", "abc: xyz\n", 38);
	/* A 300-byte value cannot fit a 256-byte table: the table empties. */
	block[pos++] = 0x40;
	block[pos++] = 0x01;
	block[pos++] = 'k';
	block[pos++] = 0x7f;
	block[pos++] = 300 - 127;
	block[pos++] = 0x01;
	memset(block + pos, 'v', 300);
	pos += 300;
	assert_int_equal(hpack_decode(&dec, block, pos, collect, &c), 0);
	assert_int_equal(dec.count, 0);
	assert_int_equal(dec.size, 0);
}

/* The table keeps working after its data buffer wraps many times. */
static void test_table_compaction(void **state)
{
	uint8_t block[64];
	char expected[64];

	hpack_decoder_init(&dec, 4096);
	for (int i = 0; i < 2000; i++) {
		int n = snprintf((char *)block + 3, sizeof block - 3, "value-%05d", i);
		struct collected c = { .len = 0 };

		block[0] = 0x40;
		block[1] = 0x01;
		block[2] = 'k';
		memmove(block + 4, block + 3, (size_t)n);
		block[3] = (uint8_t)n;
		assert_int_equal(hpack_decode(&dec, block, 4 + (size_t)n, collect, &c), 0);
		/* The newest entry is index 62 and reads back intact. */
		block[0] = 0xbe;
		c.len = 0;
		assert_int_equal(hpack_decode(&dec, block, 1, collect, &c), 0);
		snprintf(expected, sizeof expected, "k: value-%05d\n", i);
		assert_string_equal(c.text, expected);
	}
	assert_true(dec.size <= 4096);
}

static void test_encoder_round_trip(void **state)
{
	uint8_t block[256];
	size_t pos = 0;
	struct collected c = { .len = 0 };

	assert_int_equal(hpack_encode_header(block, sizeof block, &pos, ":method", "POST"), 0);
	assert_int_equal(pos, 1);   /* static index 3 */
	assert_int_equal(hpack_encode_header(block, sizeof block, &pos, ":path", "/a.b/C"), 0);
	assert_int_equal(hpack_encode_header(block, sizeof block, &pos, "containerd-namespace", "k8s.io"), 0);
	assert_int_equal(hpack_encode_header(block, sizeof block, &pos, "te", "trailers"), 0);
	hpack_decoder_init(&dec, 4096);
	assert_int_equal(hpack_decode(&dec, block, pos, collect, &c), 0);
	assert_string_equal(c.text, ":method: POST\n:path: /a.b/C\ncontainerd-namespace: k8s.io\nte: trailers\n");
	pos = 0;
	assert_int_equal(hpack_encode_header(block, 4, &pos, "te", "trailers"), HPACK_ERR_NOSPACE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_integer_examples),
		cmocka_unit_test(test_integer_limits),
		cmocka_unit_test(test_field_examples),
		cmocka_unit_test(test_requests_plain),
		cmocka_unit_test(test_requests_huffman),
		cmocka_unit_test(test_responses_plain),
		cmocka_unit_test(test_responses_huffman),
		cmocka_unit_test(test_huffman_codes),
		cmocka_unit_test(test_huffman_round_trip),
		cmocka_unit_test(test_huffman_invalid),
		cmocka_unit_test(test_decode_errors),
		cmocka_unit_test(test_table_size_update),
		cmocka_unit_test(test_entry_larger_than_table),
		cmocka_unit_test(test_table_compaction),
		cmocka_unit_test(test_encoder_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

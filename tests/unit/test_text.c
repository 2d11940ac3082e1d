/* Unit tests for lib/text.h: hex digits and UTF-8 encoding. */
#include "unit.h"

#include <string.h>

#include "text.h"

static void hex_digits(void **state)
{
	(void)state;
	assert_int_equal(hex_digit_value('0'), 0);
	assert_int_equal(hex_digit_value('9'), 9);
	assert_int_equal(hex_digit_value('a'), 10);
	assert_int_equal(hex_digit_value('F'), 15);
	assert_int_equal(hex_digit_value('g'), -1);
	assert_int_equal(hex_digit_value('G'), -1);
	assert_int_equal(hex_digit_value('/'), -1);
	assert_int_equal(hex_digit_value(0), -1);
}

/* Boundaries of each UTF-8 length (RFC 3629 section 3). */
static void utf8_lengths(void **state)
{
	static const struct {
		unsigned long cp;
		const char *bytes;
	} cases[] = {
		{ 0x24, "\x24" },
		{ 0x7f, "\x7f" },
		{ 0x80, "\xc2\x80" },
		{ 0x7ff, "\xdf\xbf" },
		{ 0x800, "\xe0\xa0\x80" },
		{ 0x20ac, "\xe2\x82\xac" },
		{ 0xffff, "\xef\xbf\xbf" },
		{ 0x10000, "\xf0\x90\x80\x80" },
		{ 0x10ffff, "\xf4\x8f\xbf\xbf" },
	};
	char out[4];

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		size_t n = utf8_encode(cases[i].cp, out);

		assert_int_equal(n, strlen(cases[i].bytes));
		assert_memory_equal(out, cases[i].bytes, n);
	}
	assert_int_equal(utf8_encode(0x110000, out), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hex_digits),
		cmocka_unit_test(utf8_lengths),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

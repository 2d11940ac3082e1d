# rdagent build.
#
#   make            out/rdagent: stripped, fully static (musl-gcc)
#   make check      host build with ASan/UBSan, cmocka unit tests, bats
#                   integration tests against out/rdagent
#   make fuzz       libFuzzer targets under fuzz/, FUZZ_SECONDS each (default 30)
#   make bench      benchmarks under bench/, results in docs/benchmarks.md
#   make size       section and symbol sizes of the static binary
#
# build.sh installs the toolchain and builds BearSSL into third_party/build
# first; run it once on a fresh machine.

VERSION      := 0.1.0
TP           := third_party/build
MUSL_CC      ?= musl-gcc
HOST_CC      ?= gcc
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 30

WARN     := -Wall -Wextra -Werror -Wno-unused-parameter
COMMON   := -std=c11 -D_GNU_SOURCE -DRDAGENT_VERSION='"$(VERSION)"' -I. -Ilib -Iout/gen -I$(TP)/include $(WARN)
CFLAGS   ?= -Os
STATIC_CFLAGS  := $(COMMON) $(CFLAGS) -ffunction-sections -fdata-sections -fno-asynchronous-unwind-tables
STATIC_LDFLAGS := -static -Wl,--gc-sections -s
HOST_CFLAGS    := $(COMMON) -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS    := $(COMMON) -O1 -g -fsanitize=fuzzer-no-link,address,undefined -DFUZZING

LIB_SRC    := $(sort $(wildcard lib/*.c))
APPLET_SRC := $(sort $(wildcard applets/*.c))
UNIT_SRC   := $(sort $(wildcard tests/unit/test_*.c))
FUZZ_SRC   := $(sort $(wildcard fuzz/fuzz_*.c))
HEADERS    := $(wildcard lib/*.h)

STATIC_OBJ := $(patsubst %.c,out/static/%.o,$(LIB_SRC) $(APPLET_SRC) main.c)
HOST_LIB   := $(patsubst %.c,out/host/%.o,$(LIB_SRC))
FUZZ_LIB   := $(patsubst %.c,out/fuzz/%.o,$(LIB_SRC))
UNIT_BIN   := $(patsubst tests/unit/%.c,out/host/tests/%,$(UNIT_SRC))
FUZZ_BIN   := $(patsubst fuzz/%.c,out/fuzz/bin/%,$(FUZZ_SRC))

BEARSSL_A  := $(TP)/lib/libbearssl.a

.PHONY: all check unit integration fuzz fuzz-build bench size clean
.DELETE_ON_ERROR:
# Keep the host and fuzz objects between runs of check and fuzz.
.SECONDARY:

all: out/rdagent

out/gen/applets.h: $(APPLET_SRC) scripts/gen-applets.sh
	@mkdir -p $(@D)
	sh scripts/gen-applets.sh $(APPLET_SRC) > $@.tmp && mv $@.tmp $@

out/static/%.o: %.c $(HEADERS) out/gen/applets.h
	@mkdir -p $(@D)
	$(MUSL_CC) $(STATIC_CFLAGS) -c -o $@ $<

out/rdagent: $(STATIC_OBJ) $(BEARSSL_A)
	$(MUSL_CC) $(STATIC_CFLAGS) $(STATIC_LDFLAGS) -o $@ $(STATIC_OBJ) $(BEARSSL_A)

$(BEARSSL_A):
	@echo "missing $@: run ./build.sh first (it builds BearSSL with musl-gcc)" >&2
	@exit 1

# Host build for unit tests: the system's glibc BearSSL (libbearssl-dev).
out/host/%.o: %.c $(HEADERS)
	@mkdir -p $(@D)
	$(HOST_CC) $(HOST_CFLAGS) -c -o $@ $<

out/host/tests/%: tests/unit/%.c $(HOST_LIB) tests/unit/unit.h
	@mkdir -p $(@D)
	$(HOST_CC) $(HOST_CFLAGS) -Itests/unit -o $@ $< $(HOST_LIB) -lcmocka -lbearssl

unit: $(UNIT_BIN)

check: out/rdagent $(UNIT_BIN)
	sh tests/run.sh $(UNIT_BIN)

integration: out/rdagent
	sh tests/run.sh

out/fuzz/%.o: %.c $(HEADERS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

out/fuzz/bin/%: fuzz/%.c $(FUZZ_LIB)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_LIB) -lbearssl

fuzz-build: $(FUZZ_BIN)

fuzz: $(FUZZ_BIN)
	sh fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_BIN)

bench: out/rdagent
	sh bench/run.sh

size: out/rdagent
	size out/rdagent
	ls -l out/rdagent

clean:
	rm -rf out

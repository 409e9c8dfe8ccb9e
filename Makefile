# pindns: one non-recursive GNU Makefile.
#
#   make            build/libpindns.so, the engine objects, build/pindns
#   make test       install deps, build, run every test (unit, lab, integration)
#   make demo       install deps, build, run the end-to-end demo on the local lab
#   make asan       the same tests on an ASan+UBSan build (build-asan/)
#   make tsan       the threaded tests on a TSan build (build-tsan/, clang)
#   make fuzz       run each libFuzzer target for FUZZ_SECONDS
#   make stress     the 60 s load, fault and OOM runs (tests/stress/run)
#   make valgrind   memcheck: unit tests, 10,000 lookups via the preload
#   make bench      benchmarks (figures on stdout, no asserts)
#   make install    PREFIX=/usr/local DESTDIR= (man pages in PREFIX/share/man)
#   make deb        the Debian package in $(BUILD)/deb/, checked by lintian
#
# Objects go to $(BUILD)/obj mirroring the source tree; every object is
# position-independent so the same .o serves the shared objects, the CLI
# and the unit tests.

BUILD    ?= build
PREFIX   ?= /usr/local
DESTDIR  ?=
CC       ?= cc
SAN      ?=
FUZZ_SECONDS ?= 60

PKGS     := getdns ldns yaml-0.1 libsodium openssl

# pkg-config is evaluated lazily so `make clean` works before install-deps.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
YAML_LIBS  = $(shell pkg-config --libs yaml-0.1 libsodium)
DOT_LIBS   = $(shell pkg-config --libs getdns ldns openssl libsodium)

WARN     := -Wall -Wextra -Werror -Wshadow -Wmissing-prototypes \
            -Wstrict-prototypes -Wformat=2 -Wvla -Wimplicit-fallthrough \
            -Wno-unused-parameter
HARDEN   := -D_FORTIFY_SOURCE=2 -fstack-protector-strong
OPT      ?= -O2 -g
CPPFLAGS += -I. -D_GNU_SOURCE -MMD -MP
CFLAGS   += -std=c11 $(OPT) $(WARN) -fPIC -fvisibility=hidden $(SAN)
LDHARDEN := -Wl,-z,relro,-z,now
LDFLAGS  += $(SAN) $(LDHARDEN)
# Shared objects must define everything they use, except in the TSan
# flavour (see tsan: below).
ZDEFS    ?= -Wl,-z,defs

ifneq ($(SAN),)
# _FORTIFY_SOURCE and ASan do not mix well; the sanitizer checks more.
HARDEN   :=
endif
# Shared objects must not have undefined symbols (-z defs), except under
# clang's TSan: its runtime lives in the executable (exported from there),
# so an instrumented .so leaves the __tsan_* symbols to it.
ZDEFS    := -Wl,-z,defs
ifneq ($(findstring thread,$(SAN)),)
ZDEFS    :=
endif
CFLAGS   += $(HARDEN)

OBJ      := $(BUILD)/obj

# `make V=1` shows the commands.
ifeq ($(V),1)
Q :=
else
Q := @
endif

PRELOAD_SRC  := $(sort $(wildcard preload/*.c))
POLICY_SRC   := $(sort $(wildcard policy/*.c))
# resolver/*.c is the engine front (cache, verdicts, log); dot_dl.c is how
# the shared engine finds the getdns backend (dlopen). The CLI and the unit
# tests link the backend statically instead.
FRONT_SRC    := $(sort $(filter-out resolver/dot_dl.c,$(wildcard resolver/*.c)))
DOT_SRC      := $(sort $(wildcard resolver/dot/*.c))
CLI_SRC      := $(sort $(wildcard cli/*.c))
UNIT_SRC     := $(sort $(wildcard tests/unit/test_*.c))
TESTLIB_SRC  := $(sort $(filter-out $(UNIT_SRC),$(wildcard tests/unit/*.c)))
# tests/tools/so_<name>.c build as $(BUILD)/tools/<name>.so (LD_PRELOAD
# shims for lab servers); every other tests/tools/*.c is a program.
TOOLSO_SRC   := $(sort $(wildcard tests/tools/so_*.c))
TOOL_SRC     := $(sort $(filter-out $(TOOLSO_SRC),$(wildcard tests/tools/*.c)))
BENCH_SRC    := $(sort $(wildcard bench/*.c))

o = $(patsubst %.c,$(OBJ)/%.o,$(1))

PRELOAD_OBJ  := $(call o,$(PRELOAD_SRC))
POLICY_OBJ   := $(call o,$(POLICY_SRC))
FRONT_OBJ    := $(call o,$(FRONT_SRC))
DOT_OBJ      := $(call o,$(DOT_SRC))
CLI_OBJ      := $(call o,$(CLI_SRC))
TESTLIB_OBJ  := $(call o,$(TESTLIB_SRC))

LIB_PRELOAD  := $(BUILD)/libpindns.so
LIB_ENGINE   := $(BUILD)/libpindns-engine.so
LIB_DOT      := $(BUILD)/libpindns-dot.so
CLI          := $(BUILD)/pindns
UNIT_BIN     := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
TOOL_BIN     := $(patsubst tests/tools/%.c,$(BUILD)/tools/%,$(TOOL_SRC))
TOOLSO_BIN   := $(patsubst tests/tools/so_%.c,$(BUILD)/tools/%.so,$(TOOLSO_SRC))
BENCH_BIN    := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))

ALL_OBJ := $(PRELOAD_OBJ) $(POLICY_OBJ) $(FRONT_OBJ) $(DOT_OBJ) \
           $(OBJ)/resolver/dot_dl.o $(CLI_OBJ) $(TESTLIB_OBJ) \
           $(call o,$(UNIT_SRC) $(TOOL_SRC) $(TOOLSO_SRC) $(BENCH_SRC))

.PHONY: all test demo asan tsan fuzz fuzz-build bench install clean deps \
        product deb \
        unit check-exports stress valgrind
.DEFAULT_GOAL := all

all: $(LIB_PRELOAD) $(LIB_ENGINE) $(LIB_DOT) $(CLI) $(UNIT_BIN) $(TOOL_BIN) \
     $(TOOLSO_BIN) $(BENCH_BIN)

# scripts/install-deps TARGET installs what that target needs (and
# leaves no daemon it installed running or enabled).
deps:
	@scripts/install-deps all
deps-%:
	@scripts/install-deps $*

# Objects and links depend on this Makefile: a change of flags rebuilds.
$(OBJ)/%.o: %.c Makefile
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

# The preload links libc only: nothing heavy in every process it reaches.
# No pkg-config flags here, so a getdns/yaml/sodium include fails to build.
# It is the one object bound lazily (RELRO without -z now): binding its
# ~50 libc imports at load cost every process that never resolves a name
# 36k instructions and ~120 KB RSS (callgrind and max RSS of /bin/true);
# its table of real libc functions is writable data of the same kind
# anyway. The engine, the backend and the CLI keep full RELRO.
# -Bsymbolic-functions: the preload's own references to its hooks (the
# "not our own hook" check of each real function) bind inside it at link
# time, instead of one global symbol lookup per hook at every process
# start (28 hooks: ~9,000 instructions of /bin/true's start-up).
$(OBJ)/preload/%.o: preload/%.c Makefile
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(LIB_PRELOAD): $(PRELOAD_OBJ) preload/exports.map Makefile
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -shared -o $@ $(PRELOAD_OBJ) $(LDFLAGS) -Wl,-z,lazy $(ZDEFS) \
		-Wl,-z,nodelete -Wl,-Bsymbolic-functions \
		-Wl,--version-script=preload/exports.map -ldl -lpthread

$(LIB_ENGINE): $(POLICY_OBJ) $(FRONT_OBJ) $(OBJ)/resolver/dot_dl.o resolver/engine.map Makefile
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -shared -o $@ $(POLICY_OBJ) $(FRONT_OBJ) $(OBJ)/resolver/dot_dl.o \
		$(LDFLAGS) $(ZDEFS) -Wl,--version-script=resolver/engine.map \
		$(YAML_LIBS) -ldl -lpthread

# The backend gets policy structures from the engine as plain data and
# calls no engine function, so it links without the engine's objects.
$(LIB_DOT): $(DOT_OBJ) resolver/dot/dot.map Makefile
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -shared -o $@ $(DOT_OBJ) $(LDFLAGS) $(ZDEFS) \
		-Wl,--version-script=resolver/dot/dot.map $(DOT_LIBS) -lpthread

$(CLI): $(CLI_OBJ) $(POLICY_OBJ) $(FRONT_OBJ) $(DOT_OBJ)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -o $@ $^ $(LDFLAGS) $(YAML_LIBS) $(DOT_LIBS) -ldl -lpthread

# Unit tests link module objects directly (never the preload's hooks).
$(BUILD)/tests/%: $(OBJ)/tests/unit/%.o $(TESTLIB_OBJ) $(POLICY_OBJ) $(FRONT_OBJ) $(DOT_OBJ)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -o $@ $^ $(LDFLAGS) $(YAML_LIBS) $(DOT_LIBS) -ldl -lpthread

# Small probes and servers used by the integration tests.
$(BUILD)/tools/%: $(OBJ)/tests/tools/%.o
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -o $@ $^ $(LDFLAGS) $(TOOL_LIBS) -ldl -lpthread

# The res_* probe reads replies as a client does, with libresolv.
$(BUILD)/tools/res-probe $(BUILD)/tools/sock-probe: TOOL_LIBS := -lresolv

$(BUILD)/tools/%.so: $(OBJ)/tests/tools/so_%.o
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -shared -o $@ $^ $(LDFLAGS) -ldl -lpthread

# plain_dns builds queries with res_mkquery (libresolv), as a client does.
$(BUILD)/bench/plain_dns: PLAIN_LIBS := -lresolv

# bench/plain_*.c run under LD_PRELOAD (with and without the preload, to
# compare): they link libc only, like any program the preload reaches.
$(BUILD)/bench/plain_%: $(OBJ)/bench/plain_%.o
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -o $@ $^ $(LDFLAGS) $(PLAIN_LIBS) -lpthread

# The shims are preloaded into programs that are not instrumented (the
# lab's unbound servers), which cannot load a sanitized object (ASan wants
# its runtime first, TSan's symbols are undefined): build them without
# the sanitizer in every flavour. They still load into sanitized programs.
$(call o,$(TOOLSO_SRC)) $(TOOLSO_BIN): override SAN :=

# anchor_cold builds its one query with res_mkquery, as plain_dns does.
$(BUILD)/bench/anchor_cold: BENCH_LIBS := -lresolv

# bench_dot reads the lab's variables and makes its stock getdns context
# with the unit tests' helpers.
$(BUILD)/bench/bench_dot: $(TESTLIB_OBJ)

$(BUILD)/bench/%: $(OBJ)/bench/%.o $(POLICY_OBJ) $(FRONT_OBJ) $(DOT_OBJ)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -o $@ $^ $(LDFLAGS) $(YAML_LIBS) $(DOT_LIBS) $(BENCH_LIBS) \
		-ldl -lpthread

# `make tsan`: ThreadSanitizer's symbolizer must not load a TSan-built
# LD_PRELOAD object; this static wrapper drops LD_PRELOAD (tests/lib.sh).
TSAN_SYMBOLIZER := $(BUILD)/tools/tsan/llvm-symbolizer
ifneq ($(findstring thread,$(SAN)),)
all: $(TSAN_SYMBOLIZER)
endif
$(TSAN_SYMBOLIZER): tests/tsan/symbolizer.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)gcc -static -O2 -o $@ $<

# ---------------------------------------------------------------- tests

test: deps-test
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) tests/run

unit: all
	@BUILD=$(BUILD) tests/run --unit-only

check-exports: $(LIB_PRELOAD)
	@BUILD=$(BUILD) tests/integration/00-exports.sh

asan: deps-test
	@$(MAKE) --no-print-directory BUILD=build-asan OPT="-O1 -g -fno-omit-frame-pointer" \
		SAN="-fsanitize=address,undefined -fno-sanitize-recover=all" all
	@BUILD=build-asan PINDNS_SAN=asan tests/run

# TSan: clang links its runtime into executables only, so instrumented
# shared objects leave __tsan_* undefined (no -z defs here): an
# instrumented program provides them, an uninstrumented one gets clang's
# shared runtime preloaded first (tests/lib.sh, pd_preload_value).
tsan: deps-test
	@$(MAKE) --no-print-directory BUILD=build-tsan CC=clang OPT="-O1 -g" \
		SAN="-fsanitize=thread" ZDEFS= all
	@BUILD=build-tsan PINDNS_SAN=tsan tests/run --threaded-only

stress: deps-test all
	@BUILD=$(BUILD) tests/stress/run

# memcheck over the unit tests and 10,000 lookups through the preload.
valgrind: deps-test all
	@BUILD=$(BUILD) tests/stress/valgrind

demo: deps-demo
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) scripts/demo

bench: deps-bench
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) bench/run

# ---------------------------------------------------------------- fuzzing
# libFuzzer targets: tests/fuzz/fuzz_<name>.c with a corpus in
# tests/fuzz/corpus/<name>/. Built with clang, ASan and UBSan, from the
# same sources as the product.

FUZZ_SRC  := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN  := $(patsubst tests/fuzz/%.c,build-fuzz/%,$(FUZZ_SRC))
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -I. -D_GNU_SOURCE \
              -DPD_FUZZING -std=c11
FUZZ_LIBSRC := $(POLICY_SRC) $(FRONT_SRC) $(DOT_SRC)

FUZZ_HDR := $(wildcard policy/*.h resolver/*.h resolver/dot/*.h tests/fuzz/*.h)

build-fuzz/%: tests/fuzz/%.c $(FUZZ_LIBSRC) $(FUZZ_HDR)
	@mkdir -p $(@D)
	clang $(FUZZ_FLAGS) $(PKG_CFLAGS) -o $@ $< $(FUZZ_LIBSRC) \
		$(YAML_LIBS) $(DOT_LIBS) -ldl -lpthread

# The preload's builders are compiled into their fuzzer from source (the
# preload exports nothing but the hooks).
build-fuzz/fuzz_build: FUZZ_LIBSRC := preload/build.c preload/numeric.c
build-fuzz/fuzz_build: preload/build.c preload/numeric.c $(wildcard preload/*.h)

fuzz-build: $(FUZZ_BIN)

fuzz: deps-fuzz fuzz-build
	@for f in $(FUZZ_BIN); do \
		n=$${f#build-fuzz/fuzz_}; mkdir -p build-fuzz/corpus/$$n; \
		echo "fuzz: $$n for $(FUZZ_SECONDS) s"; \
		dict=; [ -f tests/fuzz/$$n.dict ] && dict=-dict=tests/fuzz/$$n.dict; \
		$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 $$dict \
			build-fuzz/corpus/$$n tests/fuzz/corpus/$$n || exit 1; \
	done

# ---------------------------------------------------------------- install

# LIBSUBDIR: the libraries' directory under PREFIX (the Debian package
# uses lib/<multiarch>/pindns); the installed pindns-exec is told where,
# relative to its own bin/. EXAMPLE: where the shipped policy goes under
# PREFIX (empty: not installed; the package puts it in its examples).
LIBSUBDIR ?= lib/pindns
EXAMPLE  ?= share/pindns/policy.yaml
LIBDIR_P := $(DESTDIR)$(PREFIX)/$(LIBSUBDIR)
BINDIR_P := $(DESTDIR)$(PREFIX)/bin
MANDIR_P := $(DESTDIR)$(PREFIX)/share/man
COMPDIR_P := $(DESTDIR)$(PREFIX)/share/bash-completion/completions
# pindns serve's unit (disabled: nothing enables it on install). The
# Debian package puts it in /lib/systemd/system (bookworm's place).
UNITDIR  ?= $(PREFIX)/lib/systemd/system
UNITDIR_P := $(DESTDIR)$(UNITDIR)
MAN_SRC  := $(sort $(wildcard man/*.[1-8]))

# What is installed: the three objects and the tool.
product: $(LIB_PRELOAD) $(LIB_ENGINE) $(LIB_DOT) $(CLI)

install: product
	install -d $(LIBDIR_P) $(BINDIR_P)
	install -m 0644 $(LIB_PRELOAD) $(LIB_ENGINE) $(LIB_DOT) $(LIBDIR_P)/
	install -m 0755 $(CLI) $(BINDIR_P)/pindns
	sed 's|^libsub=.*|libsub=$(LIBSUBDIR)|' scripts/pindns-exec \
		>$(BINDIR_P)/pindns-exec
	chmod 0755 $(BINDIR_P)/pindns-exec
	install -m 0755 scripts/pindns-aws-pins $(BINDIR_P)/pindns-aws-pins
	$(if $(EXAMPLE),install -D -m 0644 policy/dynamodb.yaml \
		$(DESTDIR)$(PREFIX)/$(EXAMPLE))
	install -d $(UNITDIR_P)
	sed 's|/usr/bin/pindns|$(PREFIX)/bin/pindns|' \
		examples/systemd/pindns-serve.service \
		>$(UNITDIR_P)/pindns-serve.service
	chmod 0644 $(UNITDIR_P)/pindns-serve.service
	install -D -m 0644 scripts/bash-completion/pindns $(COMPDIR_P)/pindns
	ln -sf pindns $(COMPDIR_P)/pindns-exec
	for m in $(MAN_SRC); do \
		install -d $(MANDIR_P)/man$${m##*.} && \
		install -m 0644 $$m $(MANDIR_P)/man$${m##*.}/ || exit 1; \
	done

# ---------------------------------------------------------------- deb
# make deb: the Debian package (debian/, debhelper) built with
# dpkg-buildpackage in a copy of the source tree under $(BUILD)/deb, so
# nothing lands outside the tree; then lintian, which must say nothing.

DEB_DIR := $(BUILD)/deb

deb: deps-deb
	@rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)/src
	@git ls-files -co --exclude-standard -z | \
		xargs -0 cp --parents -a -t $(DEB_DIR)/src
	cd $(DEB_DIR)/src && dpkg-buildpackage -b -us -uc -j2 >../build.log 2>&1 || \
		{ tail -n 30 ../build.log; exit 1; }
	lintian --fail-on error,warning --suppress-tags \
		bad-distribution-in-changes-file $(DEB_DIR)/pindns_*.changes
	@ls $(DEB_DIR)/*.deb

clean:
	rm -rf build build-asan build-tsan build-fuzz

-include $(ALL_OBJ:.o=.d)

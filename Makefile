# raftpipe developer targets. CI runs .ci/run, which uses these.
GO            ?= go
PKGS          ?= ./...
FUZZTIME      ?= 5s
BENCHTIME     ?= 2s
BENCHCOUNT    ?= 6
STATICCHECK   ?= honnef.co/go/tools/cmd/staticcheck@v0.7.0

.PHONY: test race bench fuzz lint

# The README's test command.
test:
	$(GO) test $(PKGS)

race:
	$(GO) test -race $(PKGS)

# Every benchmark, BENCHCOUNT times, ready for benchstat.
bench:
	$(GO) test -run '^$$' -bench . -benchtime $(BENCHTIME) -count $(BENCHCOUNT) $(PKGS) | tee bench.txt

# A short run of every fuzz target of every package (go test -fuzz takes
# one target at a time).
fuzz:
	@set -e; for pkg in $$($(GO) list $(PKGS)); do \
		for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "fuzz $$pkg $$target for $(FUZZTIME)"; \
			$(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done

lint:
	$(GO) vet $(PKGS)
	$(GO) run $(STATICCHECK) $(PKGS)

/*
 * Exits by raw reason, and the anatomy of a reflected nested exit, in L0's
 * own counters (issue 8; DESIGN.md principle 5).  Pure: the run loop calls
 * exit_reasons_on_exit() when a guest exits and exit_reasons_on_entry()
 * right before it enters one again; both only read the TSC values given.
 *
 * Per level (L1, L2, L3) and vendor exit code (SVM EXITCODE, VMX basic
 * reason): the count, and a log2 histogram of L0's ticks from that exit to
 * the next entry (kernel/exit_cost.c).
 *
 * A reflected exit is one of level N after which L0 enters a lower level
 * (L1 takes it).  It is followed until L0 enters level N again, and its
 * round trip is split in three, the way docs/benchmarks.md draws it:
 *
 *   L2 exit ──before── L1 entry ──l1── L1's last exit ──after── L2 entry
 *                              (VMRUN/VMRESUME)
 *
 *   before  L0's work from L2's exit to L1's entry (the reflection);
 *   l1      L1's handling, including L0's service of the exits L1 makes
 *           meanwhile (and any time L1 spends halted);
 *   after   L0's work for the exit that resumes L2 (its VMRUN/VMRESUME):
 *           the merge and the entry;
 *   l1_exits  the exits L1 made in between, that last one included: the
 *           exit multiplication (1 is the floor).
 */
#ifndef NESTOR_EXIT_REASONS_H
#define NESTOR_EXIT_REASONS_H
#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include "kernel/exit_cost.h"

#define EXIT_REASON_SLOTS  32  /* distinct raw codes per level; more are dropped */
#define EXIT_REASON_LEVELS HC_EXIT_LEVELS

struct exit_reason_stat {
	uint32_t reason;          /* the raw code */
	uint32_t count;           /* exits with it */
	struct exit_cost cost;    /* L0 ticks, exit to the next entry */
	/* reflected round trips, completed (L0 entered this level again) */
	uint32_t reflected;
	uint64_t l1_exits;        /* summed over the round trips */
	struct exit_cost before, l1, after;
};

struct exit_reason_table {
	struct exit_reason_stat slot[EXIT_REASON_SLOTS];
	uint32_t dropped;         /* exits of codes that found no free slot */
};

struct exit_reasons {
	struct exit_reason_table level[EXIT_REASON_LEVELS];  /* index: level - 1, deeper in the last */
	/* the last exit, until the next entry prices it */
	struct exit_reason_stat *pending;
	uint64_t pending_tsc;
	unsigned pending_level;
	/* the reflection being followed */
	struct {
		bool open;
		struct exit_reason_stat *stat;
		unsigned level;       /* of the exit reflected */
		uint64_t before;      /* ticks, exit to L1's entry */
		uint64_t l1_entry, last_l1_exit;
		uint32_t l1_exits;
	} watch;
};

/* A guest of this level (1..) exited with this raw code at TSC `tsc`. */
void exit_reasons_on_exit(struct exit_reasons *r, unsigned level, uint32_t reason, uint64_t tsc);
/* L0 is about to enter a guest of this level at TSC `tsc`. */
void exit_reasons_on_entry(struct exit_reasons *r, unsigned level, uint64_t tsc);
/* The slot of a raw code at a level, or NULL if it never exited. */
const struct exit_reason_stat *exit_reasons_find(const struct exit_reasons *r, unsigned level, uint32_t reason);

/* Names a raw code for the report ("CPUID"), or NULL. */
typedef const char *(*exit_reason_namer)(uint32_t reason, char *buf, size_t len);
/* The report of one level: a line per code, most frequent first:
 *   "NAME(0x72) count=N cost: mean=M min=A p50<=B p99<=C max=D"
 * and for codes reflected to L1 a second line:
 *   "  reflected=R l1_exits/trip=X.YY before: mean=.. | l1: mean=.. | after: mean=.."
 * Returns the length written (truncated at len - 1, always terminated). */
size_t exit_reasons_format(const struct exit_reasons *r, unsigned level, exit_reason_namer name,
			   char *buf, size_t len);
#endif

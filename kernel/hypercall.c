/* The hypercall ABI of kernel/hypercall.h (docs/hypercalls.md). */
#include <string.h>
#include "kernel/platform.h"
#include "kernel/log.h"
#include "kernel/trace_l0.h"

long hypercall(struct vcpu *v, uint64_t nr, uint64_t a1, uint64_t a2, uint64_t a3)
{
	(void)a3;
	struct vm *vm = v->vm;
	switch (nr) {
	case HC_NOP:
		return 0;
	case HC_CONSOLE: {
		if (a2 > 4096)
			return HC_ERR_INVALID;
		char buf[256];
		for (uint64_t off = 0; off < a2; off += sizeof(buf)) {
			size_t n = a2 - off < sizeof(buf) ? a2 - off : sizeof(buf);
			if (gmem_read(v->mem, a1 + off, buf, n))
				return HC_ERR_FAULT; /* checked through the memory map: never L0 memory */
			for (size_t i = 0; i < n; i++)
				vm_console_putc(vm, buf[i]);
		}
		return (long)a2;
	}
	case HC_EXIT:
		vm_end(vm, (int)a1, "exit hypercall");
		return 0;
	case HC_EXIT_STATS: {
		size_t n = a2 < sizeof(v->stats) ? a2 : sizeof(v->stats);
		if (gmem_write(v->mem, a1, &v->stats, n))
			return HC_ERR_FAULT;
		return (long)n;
	}
	case HC_TRACE:
		if (a1 == HC_TRACE_OFF || a1 == HC_TRACE_ON)
			return trace_l0_set(vm, v, a1 == HC_TRACE_ON) ? HC_ERR_INVALID : 0;
		if (a1 == HC_TRACE_READ)
			return trace_l0_read(v, a2, a3);
		if (a1 != HC_TRACE_DUMP)
			return HC_ERR_INVALID;
		trace_l0_dump_all();
		return 0;
	default:
		return HC_ERR_INVALID;
	}
}

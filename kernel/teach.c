/* The teaching trace (kernel/teach.h). */
#include <stdarg.h>
#include <stdio.h>
#include "kernel/teach.h"
#include "kernel/log.h"

bool teach_on(struct vcpu *v, bool step)
{
	if (!v->vm->cfg->teach || v->index != 0 || v->teach_steps > TEACH_STEPS)
		return false;
	if (step && ++v->teach_steps > TEACH_STEPS) {
		kprint("teach: vm %s: (%u transitions shown; quiet from here)\n", v->vm->cfg->name,
		       TEACH_STEPS);
		return false;
	}
	return true;
}

void teach(struct vcpu *v, const char *fmt, ...)
{
	char line[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	kprint("teach: vm %s: %s\n", v->vm->cfg->name, line);
}

bool teach_first(struct vcpu *v, uint64_t code)
{
	for (unsigned i = 0; i < v->teach_seen_count; i++)
		if (v->teach_seen[i] == code)
			return false;
	if (v->teach_seen_count < sizeof(v->teach_seen) / sizeof(v->teach_seen[0]))
		v->teach_seen[v->teach_seen_count++] = code;
	return true;
}

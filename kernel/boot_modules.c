/* Looking up a file the boot brought along (kernel/boot_info.h). */
#include <string.h>
#include "kernel/boot_modules.h"

const struct boot_module *boot_module_find(const struct boot_info *bi, const char *name)
{
	for (unsigned i = 0; i < bi->module_count; i++)
		if (!strcmp(bi->modules[i].name, name))
			return &bi->modules[i];
	return NULL;
}

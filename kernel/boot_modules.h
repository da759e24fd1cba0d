#ifndef NESTOR_BOOT_MODULES_H
#define NESTOR_BOOT_MODULES_H
#include "kernel/boot_info.h"
/* The module named `name` (the config, a guest image...), or NULL. */
const struct boot_module *boot_module_find(const struct boot_info *bi, const char *name);
#endif

/* Guests built into Nestor (`image = builtin:NAME`): the demo guest of the
 * default configuration, so that `make run` needs no files. */
	.section .rodata
	.balign 16
	.global builtin_demo_start, builtin_demo_end
builtin_demo_start:
	.incbin BUILTIN_DEMO
builtin_demo_end:

/* The embedded default configuration (kernel/default.cfg), used when no
 * nestor.cfg came with the boot. */
	.section .rodata
	.global default_cfg_text, default_cfg_end
default_cfg_text:
	.incbin "kernel/default.cfg"
default_cfg_end:
	.byte 0

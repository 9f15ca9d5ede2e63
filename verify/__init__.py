"""fenn_dma.verify: verification above the product packages (docs/rtl.md,
"Verification"): the seeded random-program generator and directed vector
programs (``random_program``), the vector kernels (``kernels``), the one RTL
runner (``runner``, over the Verilator/cocotb harness ``rtl_harness``), the
ISS's vector issue stream for unit tests (``vector_stream``) and state
comparison (``compare``). Nothing in isa/, sim/, compiler/, host/, rtl/ or
boards/ imports it."""

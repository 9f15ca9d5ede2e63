/* The two functions of liblz4's stable API (lz4 >= 1.7.3) that Verilator's FST writer
 * (include/fstcpp/fstcpp_writer.cpp) calls. Used only where the lz4 development headers
 * are missing but the shared library is present (verify/rtl_native.py, FST builds): a
 * plain Debian machine has liblz4.so.1, which apt and systemd need, but not lz4.h. */
#ifndef FENN_LZ4_SHIM_H
#define FENN_LZ4_SHIM_H
#ifdef __cplusplus
extern "C" {
#endif
int LZ4_compressBound(int inputSize);
int LZ4_compress_default(const char* src, char* dst, int srcSize, int dstCapacity);
#ifdef __cplusplus
}
#endif
#endif

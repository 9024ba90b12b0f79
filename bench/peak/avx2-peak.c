// One core's peak multiply-add rates for docs/performance.md ("Ninth session: a Zen 3 core"): the floor of ResNet18 on that core.
// Build and run pinned, with nothing else on the core:  gcc -O2 -mavx2 -mfma -o /tmp/peak bench/peak/avx2-peak.c && taskset -c 0 /tmp/peak
// Inline assembly so that the compiler folds nothing away; every chain is independent, so throughput, not latency, is measured.
// Peak throughput of one Zen 3 core: fp32 FMA (ymm), u8 x s8 via vpmaddubsw + vpmaddwd + vpaddd (MLAS's AVX2 u8s8 path),
// u8 x u8 via widened i16 vpmaddwd + vpaddd (MLAS's AVX2 u8u8 path), and the clock (a chain of dependent integer adds).
#include <immintrin.h>
#include <stdio.h>
#include <stdint.h>
#include <time.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
#define N 200000000L
__attribute__((noinline)) double clk(void){
  uint64_t x=0; double t=now();
  for(long i=0;i<N;i++){ __asm__ volatile("add $1,%0\n\tadd $1,%0\n\tadd $1,%0\n\tadd $1,%0":"+r"(x)); }
  t=now()-t; return 4.0*N/t; }
// fp32: 12 independent vfmadd231ps ymm chains (8 MACs each).
__attribute__((noinline)) double fmapk(void){
  long n=N/4; double t=now();
  __asm__ volatile(
    "vxorps %%ymm0,%%ymm0,%%ymm0\n\tvxorps %%ymm1,%%ymm1,%%ymm1\n\tvxorps %%ymm2,%%ymm2,%%ymm2\n\tvxorps %%ymm3,%%ymm3,%%ymm3\n\t"
    "vxorps %%ymm4,%%ymm4,%%ymm4\n\tvxorps %%ymm5,%%ymm5,%%ymm5\n\tvxorps %%ymm6,%%ymm6,%%ymm6\n\tvxorps %%ymm7,%%ymm7,%%ymm7\n\t"
    "vxorps %%ymm8,%%ymm8,%%ymm8\n\tvxorps %%ymm9,%%ymm9,%%ymm9\n\tvxorps %%ymm10,%%ymm10,%%ymm10\n\tvxorps %%ymm11,%%ymm11,%%ymm11\n\t"
    "1:\n\t"
    "vfmadd231ps %%ymm14,%%ymm15,%%ymm0\n\tvfmadd231ps %%ymm14,%%ymm15,%%ymm1\n\tvfmadd231ps %%ymm14,%%ymm15,%%ymm2\n\t"
    "vfmadd231ps %%ymm14,%%ymm15,%%ymm3\n\tvfmadd231ps %%ymm14,%%ymm15,%%ymm4\n\tvfmadd231ps %%ymm14,%%ymm15,%%ymm5\n\t"
    "vfmadd231ps %%ymm14,%%ymm15,%%ymm6\n\tvfmadd231ps %%ymm14,%%ymm15,%%ymm7\n\tvfmadd231ps %%ymm14,%%ymm15,%%ymm8\n\t"
    "vfmadd231ps %%ymm14,%%ymm15,%%ymm9\n\tvfmadd231ps %%ymm14,%%ymm15,%%ymm10\n\tvfmadd231ps %%ymm14,%%ymm15,%%ymm11\n\t"
    "dec %0\n\tjnz 1b\n\t"
    : "+r"(n) :: "xmm0","xmm1","xmm2","xmm3","xmm4","xmm5","xmm6","xmm7","xmm8","xmm9","xmm10","xmm11","xmm14","xmm15","cc");
  t=now()-t; return 12.0*8*(N/4)/t; }
// u8s8: per step 32 MACs per vpmaddubsw (16 i16 lanes x 2), then vpmaddwd with ones to i32, vpaddd into the accumulator
// (MLAS's AVX2 u8s8 kernel). Inline asm: 6 independent accumulators, ymm0 = activations, ymm1-6 = weights, ymm7 = ones.
__attribute__((noinline)) double u8s8(void){
  long n=N/4; double t=now();
  __asm__ volatile(
    "vpcmpeqw %%ymm7,%%ymm7,%%ymm7\n\tvpsrlw $15,%%ymm7,%%ymm7\n\t"
    "vpxor %%ymm8,%%ymm8,%%ymm8\n\tvpxor %%ymm9,%%ymm9,%%ymm9\n\tvpxor %%ymm10,%%ymm10,%%ymm10\n\t"
    "vpxor %%ymm11,%%ymm11,%%ymm11\n\tvpxor %%ymm12,%%ymm12,%%ymm12\n\tvpxor %%ymm13,%%ymm13,%%ymm13\n\t"
    "1:\n\t"
    "vpmaddubsw %%ymm1,%%ymm0,%%ymm14\n\tvpmaddwd %%ymm7,%%ymm14,%%ymm14\n\tvpaddd %%ymm14,%%ymm8,%%ymm8\n\t"
    "vpmaddubsw %%ymm2,%%ymm0,%%ymm15\n\tvpmaddwd %%ymm7,%%ymm15,%%ymm15\n\tvpaddd %%ymm15,%%ymm9,%%ymm9\n\t"
    "vpmaddubsw %%ymm3,%%ymm0,%%ymm14\n\tvpmaddwd %%ymm7,%%ymm14,%%ymm14\n\tvpaddd %%ymm14,%%ymm10,%%ymm10\n\t"
    "vpmaddubsw %%ymm4,%%ymm0,%%ymm15\n\tvpmaddwd %%ymm7,%%ymm15,%%ymm15\n\tvpaddd %%ymm15,%%ymm11,%%ymm11\n\t"
    "vpmaddubsw %%ymm5,%%ymm0,%%ymm14\n\tvpmaddwd %%ymm7,%%ymm14,%%ymm14\n\tvpaddd %%ymm14,%%ymm12,%%ymm12\n\t"
    "vpmaddubsw %%ymm6,%%ymm0,%%ymm15\n\tvpmaddwd %%ymm7,%%ymm15,%%ymm15\n\tvpaddd %%ymm15,%%ymm13,%%ymm13\n\t"
    "dec %0\n\tjnz 1b\n\t"
    : "+r"(n) :: "xmm0","xmm1","xmm2","xmm3","xmm4","xmm5","xmm6","xmm7","xmm8","xmm9","xmm10","xmm11","xmm12","xmm13","xmm14","xmm15","cc");
  t=now()-t; return 6.0*32*(N/4)/t; }
// u8u8 (MLAS's AVX2 u8u8 kernel widens both to i16): 16 MACs per vpmaddwd, vpaddd into the accumulator; 6 accumulators.
__attribute__((noinline)) double u8u8(void){
  long n=N/4; double t=now();
  __asm__ volatile(
    "vpxor %%ymm8,%%ymm8,%%ymm8\n\tvpxor %%ymm9,%%ymm9,%%ymm9\n\tvpxor %%ymm10,%%ymm10,%%ymm10\n\t"
    "vpxor %%ymm11,%%ymm11,%%ymm11\n\tvpxor %%ymm12,%%ymm12,%%ymm12\n\tvpxor %%ymm13,%%ymm13,%%ymm13\n\t"
    "1:\n\t"
    "vpmaddwd %%ymm1,%%ymm0,%%ymm14\n\tvpaddd %%ymm14,%%ymm8,%%ymm8\n\t"
    "vpmaddwd %%ymm2,%%ymm0,%%ymm15\n\tvpaddd %%ymm15,%%ymm9,%%ymm9\n\t"
    "vpmaddwd %%ymm3,%%ymm0,%%ymm14\n\tvpaddd %%ymm14,%%ymm10,%%ymm10\n\t"
    "vpmaddwd %%ymm4,%%ymm0,%%ymm15\n\tvpaddd %%ymm15,%%ymm11,%%ymm11\n\t"
    "vpmaddwd %%ymm5,%%ymm0,%%ymm14\n\tvpaddd %%ymm14,%%ymm12,%%ymm12\n\t"
    "vpmaddwd %%ymm6,%%ymm0,%%ymm15\n\tvpaddd %%ymm15,%%ymm13,%%ymm13\n\t"
    "dec %0\n\tjnz 1b\n\t"
    : "+r"(n) :: "xmm0","xmm1","xmm2","xmm3","xmm4","xmm5","xmm6","xmm7","xmm8","xmm9","xmm10","xmm11","xmm12","xmm13","xmm14","xmm15","cc");
  t=now()-t; return 6.0*16*(N/4)/t; }
int main(void){
  double c=clk(); printf("clock (dependent adds)   %.2f GHz\n",c/1e9);
  double f=fmapk(); printf("fp32 FMA ymm             %.1f GMAC/s  %.1f MAC/cycle\n",f/1e9,f/c);
  double s=u8s8(); printf("u8s8 maddubsw+maddwd+add %.1f GMAC/s  %.1f MAC/cycle\n",s/1e9,s/c);
  double u=u8u8(); printf("u8u8 i16 maddwd+add      %.1f GMAC/s  %.1f MAC/cycle\n",u/1e9,u/c);
  return 0; }

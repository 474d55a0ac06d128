// The idle-footprint test measures the whole process's managed heap, so no other test may run beside it; the rest of the
// suite takes seconds, so it runs serially too.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

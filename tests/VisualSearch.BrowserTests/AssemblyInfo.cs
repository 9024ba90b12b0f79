// One host at a time: the browser test's timings should not depend on the other classes' model loads and
// thumbnail work on the same cores.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

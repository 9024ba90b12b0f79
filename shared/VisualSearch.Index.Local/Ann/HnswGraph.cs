using System.Numerics.Tensors;

namespace VisualSearch.Index.Local.Ann;

/// <summary>Settings of an <see cref="HnswGraph"/>.</summary>
/// <param name="Dimension">Vector length.</param>
/// <param name="Connectivity">Links per node (HNSW M).</param>
/// <param name="ExpansionAdd">Candidate list while inserting (efConstruction).</param>
/// <param name="ExpansionSearch">Candidate list while searching (ef).</param>
/// <param name="Quantization">How the graph stores its vectors.</param>
internal sealed record HnswSettings(int Dimension, int Connectivity, int ExpansionAdd, int ExpansionSearch, AnnQuantization Quantization);

/// <summary>One reading of the graph's links by the link check.</summary>
/// <param name="NotReached">Present nodes no link path from the entry node reaches.</param>
/// <param name="NoBottomLinkIn">Present nodes reached only through upper levels (no bottom-level link from a reached node leads to them).</param>
/// <param name="Read">Wall time to serialise, parse and walk the graph.</param>
internal sealed record LinkCheckRound(int NotReached, int NoBottomLinkIn, TimeSpan Read)
{
    public int Lost => NotReached + NoBottomLinkIn;
}

/// <summary>What a build by <see cref="HnswGraph.AddMany(IReadOnlyList{ulong}, Action{int, Span{float}}, int, AnnBuildCheck, CancellationToken)"/> did and where its time went.</summary>
/// <param name="Repaired">Vectors removed and inserted again on one thread because the check did not find them.</param>
/// <param name="Insert">Wall time of the (parallel) insert pass.</param>
/// <param name="InsertCpu">The process's CPU time during the insert pass (all threads).</param>
/// <param name="Check">Wall time of the reachability checks and re-inserts (zero for a one-thread build).</param>
/// <param name="CheckCpu">The process's CPU time during the checks and re-inserts.</param>
/// <param name="CheckSearches">Searches of the search check per candidate list (expansion, searches), smallest first; empty when the links sufficed.</param>
/// <param name="LinkRounds">Readings of the links by the link check, one per round (the last finds nothing lost, unless it fell back).</param>
/// <param name="Fallback">Why the link check gave way to the search check; null when it did not.</param>
internal sealed record HnswBuildStats(int Repaired, TimeSpan Insert, TimeSpan InsertCpu, TimeSpan Check, TimeSpan CheckCpu, IReadOnlyList<(int Expansion, int Searches)> CheckSearches,
    IReadOnlyList<LinkCheckRound> LinkRounds, string? Fallback = null)
{
    /// <summary>
    /// The check for the log: "links: 812 not reached, 40 reached only from above (0.9 s); 0 (0.9 s)" and/or
    /// "searches: 200000 at 16, 38038 at 64, 618 at 256".
    /// </summary>
    public string CheckSummary
    {
        get
        {
            var parts = new List<string>();
            if (LinkRounds.Count > 0)
                parts.Add("links: " + string.Join("; ", LinkRounds.Select(r => r.Lost == 0 ? $"0 lost ({r.Read.TotalSeconds:F1} s)"
                    : $"{r.NotReached} not reached, {r.NoBottomLinkIn} reached only from above ({r.Read.TotalSeconds:F1} s)")));
            if (Fallback is not null) parts.Add($"fell back: {Fallback}");
            if (CheckSearches.Count > 0) parts.Add("searches: " + string.Join(", ", CheckSearches.Select(c => $"{c.Searches} at {c.Expansion}")));
            return parts.Count == 0 ? "none" : string.Join("; then ", parts);
        }
    }
}

/// <summary>
/// An HNSW graph over cosine distance (USearch), keyed by 64-bit keys. Not thread-safe for writes: the
/// caller serialises <see cref="Add"/>, <see cref="Remove"/> and <see cref="Rename"/> against everything
/// else; <see cref="Search"/> may run concurrently with other searches.
/// </summary>
internal sealed class HnswGraph : IDisposable
{
    /// <summary>Most searches that may run at once (each holds one of the library's thread contexts).</summary>
    private const int SearchContexts = 64;

    /// <summary>Rounds of re-insertion after a parallel build (each over the vectors the last one re-inserted).</summary>
    private const int RepairRounds = 3;

    /// <summary>Candidates a reachability check looks at: the key itself, or an identical vector under another key, must be among them.</summary>
    private const int ReachabilityCandidates = 4;

    /// <summary>
    /// Candidate list of the reachability check's first search of every vector. A search at the graph's own
    /// expansion (ef 256 by default) costs more than an insert (which searches at <see cref="HnswSettings.ExpansionAdd"/>),
    /// and most vectors find themselves at a far smaller one; only those that do not are searched for again, at
    /// the add expansion and then at the graph's own.
    /// </summary>
    internal const int FirstCheckExpansion = 16;

    private readonly SemaphoreSlim _searchSlots = new(SearchContexts, SearchContexts);
    private IntPtr _handle;

    private HnswGraph(IntPtr handle, HnswSettings settings)
    {
        _handle = handle;
        Settings = settings;
    }

    public HnswSettings Settings { get; }

    public static HnswGraph Create(HnswSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var options = new UsearchNative.InitOptions
        {
            MetricKind = UsearchNative.MetricCos,
            Quantization = settings.Quantization switch
            {
                AnnQuantization.Int8 => UsearchNative.ScalarI8,
                AnnQuantization.Float16 => UsearchNative.ScalarF16,
                AnnQuantization.Float32 => UsearchNative.ScalarF32,
                _ => throw new ArgumentOutOfRangeException(nameof(settings), settings.Quantization, "Unknown quantization."),
            },
            Dimensions = (nuint)settings.Dimension,
            Connectivity = (nuint)settings.Connectivity,
            ExpansionAdd = (nuint)settings.ExpansionAdd,
            ExpansionSearch = (nuint)settings.ExpansionSearch,
            Multi = 0,
        };
        var handle = UsearchNative.Init(ref options, out var error);
        UsearchNative.Check(error, "init");
        if (handle == IntPtr.Zero) throw new InvalidOperationException("USearch init returned no index.");
        var graph = new HnswGraph(handle, settings);
        try
        {
            SetThreads(handle);
        }
        catch
        {
            graph.Dispose();
            throw;
        }

        return graph;
    }

    /// <summary>Loads a graph saved by <see cref="Save"/>; the settings must be those it was built with.</summary>
    public static HnswGraph Load(string path, HnswSettings settings) => LoadFrom(settings, path, handle =>
    {
        UsearchNative.Load(handle, path, out var error);
        UsearchNative.Check(error, "load");
    });

    /// <summary>A graph read from bytes <see cref="Serialize"/> made (copied); the settings must be those it was built with.</summary>
    internal static unsafe HnswGraph Deserialize(byte[] bytes, HnswSettings settings) => LoadFrom(settings, "the buffer", handle =>
    {
        fixed (byte* p = bytes)
        {
            UsearchNative.LoadBuffer(handle, p, (nuint)bytes.Length, out var error);
            UsearchNative.Check(error, "load from memory");
        }
    });

    private static HnswGraph LoadFrom(HnswSettings settings, string source, Action<IntPtr> load)
    {
        var graph = Create(settings);
        try
        {
            load(graph._handle);
            // The search expansion is not part of the file; the thread contexts are reset by a load.
            UsearchNative.ChangeExpansionSearch(graph._handle, (nuint)settings.ExpansionSearch, out var error);
            UsearchNative.Check(error, "expansion");
            SetThreads(graph._handle);
            if ((int)UsearchNative.Dimensions(graph._handle, out error) != settings.Dimension)
                throw new InvalidDataException($"The graph at {source} is not of dimension {settings.Dimension}.");
            return graph;
        }
        catch
        {
            graph.Dispose();
            throw;
        }
    }

    public long Count => (long)UsearchNative.Size(Handle, out _);

    /// <summary>Bytes the library holds for vectors and links.</summary>
    public long MemoryUsage => (long)UsearchNative.MemoryUsage(Handle, out _);

    private IntPtr Handle
    {
        get
        {
            ObjectDisposedException.ThrowIf(_handle == IntPtr.Zero, this);
            return _handle;
        }
    }

    public void Save(string path)
    {
        UsearchNative.Save(Handle, path, out var error);
        UsearchNative.Check(error, "save");
    }

    public bool Contains(ulong key) => UsearchNative.Contains(Handle, key, out _);

    /// <summary>Adds one vector (the key must not be in the graph); capacity grows by doubling.</summary>
    public void Add(ulong key, ReadOnlySpan<float> vector)
    {
        CheckDimension(vector);
        EnsureCapacity(Count + 1);
        Span<sbyte> scaled = Settings.Quantization != AnnQuantization.Int8 ? default
            : vector.Length <= 4096 ? stackalloc sbyte[vector.Length] : new sbyte[vector.Length];
        AddReserved(key, vector, scaled);
    }

    /// <summary>
    /// Adds many vectors from <paramref name="threads"/> threads at once, then makes sure each is reachable;
    /// returns how many had to be inserted again and the time of each part. <paramref name="vectorAt"/> copies the i-th vector into a
    /// buffer of the calling thread; it is called from several threads at a time, and again for a vector inserted again.
    /// <para>
    /// USearch's C API takes no thread id: each <c>usearch_add</c> takes a free per-thread context (the vector
    /// cast buffer, the candidate queues, the visited set) from a pool sized by the reservation, and a
    /// reservation is not safe beside inserts. So the capacity for every vector and the add contexts for the
    /// threads are reserved once, before any insert, and at most <paramref name="threads"/> workers insert (never
    /// more callers than contexts, whatever the thread pool does); no insert reserves or changes the thread
    /// counts (the single-vector <see cref="Add"/> does both, so it is never called from the workers).
    /// </para>
    /// <para>
    /// Even so, concurrent inserts can leave vectors unreachable (measured: 1-3 of 4,000 random vectors). Each insert
    /// links the new node to the neighbours its search found, in a graph that lacks the nodes being inserted beside it,
    /// and each neighbour then prunes its own list to the best M; when every neighbour prunes the new node away again,
    /// no link leads to it. So after the parallel pass the check (<paramref name="check"/>) finds such vectors and
    /// inserts them again on one thread, into the complete graph, as an incremental insert is
    /// (<see cref="EnsureReachable"/>).
    /// </para>
    /// </summary>
    public HnswBuildStats AddMany(IReadOnlyList<ulong> keys, Action<int, Span<float>> vectorAt, int threads, AnnBuildCheck check, CancellationToken cancellationToken = default)
        => AddMany(keys, vectorAt, threads, check, [FirstCheckExpansion, Settings.ExpansionAdd], cancellationToken);

    /// <summary>The default build: the link check.</summary>
    public HnswBuildStats AddMany(IReadOnlyList<ulong> keys, Action<int, Span<float>> vectorAt, int threads, CancellationToken cancellationToken = default)
        => AddMany(keys, vectorAt, threads, AnnBuildCheck.Links, cancellationToken);

    /// <summary>
    /// A build checked by searching, with the search check's first candidate lists given (tests and measurements);
    /// the graph's own search expansion is always the last.
    /// </summary>
    internal HnswBuildStats AddMany(IReadOnlyList<ulong> keys, Action<int, Span<float>> vectorAt, int threads, IReadOnlyList<int> checkExpansions, CancellationToken cancellationToken = default)
        => AddMany(keys, vectorAt, threads, AnnBuildCheck.Search, checkExpansions, cancellationToken);

    private HnswBuildStats AddMany(IReadOnlyList<ulong> keys, Action<int, Span<float>> vectorAt, int threads, AnnBuildCheck check, IReadOnlyList<int> checkExpansions, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(vectorAt);
        threads = Math.Clamp(threads, 1, Math.Max(1, keys.Count));
        Reserve(Count + keys.Count, threads);
        var wall = System.Diagnostics.Stopwatch.StartNew();
        var cpu = Environment.CpuUsage.TotalTime;
        ForEachInParallel(keys.Count, threads, cancellationToken, (i, buffer, scaled) =>
        {
            vectorAt(i, buffer);
            AddReserved(keys[i], buffer, scaled);
        });
        var insert = wall.Elapsed;
        var insertCpu = Environment.CpuUsage.TotalTime - cpu;
        if (threads == 1) return new HnswBuildStats(0, insert, insertCpu, TimeSpan.Zero, TimeSpan.Zero, [], []);
        return EnsureReachable(keys, vectorAt, threads, check, checkExpansions, cancellationToken) with { Insert = insert, InsertCpu = insertCpu };
    }

    /// <summary>
    /// Finds the vectors of <paramref name="keys"/> a search could not find and inserts them again on one thread, by
    /// <paramref name="check"/>; returns the check's part of the stats (no insert pass). Nothing else may use the graph meanwhile.
    /// <para>
    /// <see cref="AnnBuildCheck.Links"/>: the graph is serialised (USearch's own format, <see cref="UsearchGraphImage"/>) and
    /// its links walked from the entry node over every level; the present vectors the walk does not reach, or reaches
    /// with no bottom-level link leading to them, are inserted again, and the links read again, up to
    /// <see cref="RepairRounds"/> rounds. Reachable by the links is necessary, not sufficient, for a search to find a
    /// vector (a greedy search may stop short of one it could reach); recall@10 measures the rest. If the layout is not
    /// the one the reader knows, or vectors are still lost after the last round, the search check runs instead.
    /// </para>
    /// <para>
    /// <see cref="AnnBuildCheck.Search"/>: every vector is searched for (in parallel: searches are safe beside each other),
    /// first with a short candidate list (<paramref name="checkExpansions"/>, <see cref="FirstCheckExpansion"/> by default),
    /// those not found again with the next and then with the graph's own, and each one that does not find itself among
    /// its nearest even then (an identical vector under another key counts as found) is inserted again and checked
    /// again, up to <see cref="RepairRounds"/> rounds. At 1M clustered vectors it cost as much CPU as the inserts.
    /// </para>
    /// </summary>
    internal HnswBuildStats EnsureReachable(IReadOnlyList<ulong> keys, Action<int, Span<float>> vectorAt, int threads, AnnBuildCheck check, IReadOnlyList<int> checkExpansions, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(vectorAt);
        ArgumentNullException.ThrowIfNull(checkExpansions);
        var wall = System.Diagnostics.Stopwatch.StartNew();
        var cpu = Environment.CpuUsage.TotalTime;
        var repaired = 0;
        var rounds = new List<LinkCheckRound>();
        string? fallback = null;
        if (check == AnnBuildCheck.Links)
        {
            Dictionary<ulong, int>? indexOf = null;
            try
            {
                for (var round = 0; ; round++)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    var read = System.Diagnostics.Stopwatch.StartNew();
                    var (lostKeys, notReached, noBottomLinkIn) = ReadLinks(image =>
                    {
                        var slots = image.Unreachable(out var notReached, out var noBottomLinkIn);
                        return (slots.ConvertAll(image.KeyAt), notReached, noBottomLinkIn);
                    });
                    rounds.Add(new LinkCheckRound(notReached, noBottomLinkIn, read.Elapsed));
                    if (lostKeys.Count == 0) break;
                    if (round == RepairRounds)
                    {
                        fallback = $"{lostKeys.Count} vectors still unreachable after {RepairRounds} rounds of re-inserts";
                        break;
                    }

                    indexOf ??= keys.Select((key, i) => (key, i)).ToDictionary(p => p.key, p => p.i);
                    // A vector this call did not add has no vector to insert again: left as it was.
                    repaired += ReinsertOneByOne([.. lostKeys.Where(indexOf.ContainsKey).Select(k => indexOf[k]).Order()], keys, vectorAt, cancellationToken);
                }
            }
            catch (InvalidDataException ex)
            {
                fallback = ex.Message;
            }

            if (fallback is null)
                return new HnswBuildStats(repaired, TimeSpan.Zero, TimeSpan.Zero, wall.Elapsed, Environment.CpuUsage.TotalTime - cpu, [], rounds);
        }

        var (searches, searchRepaired) = SearchCheck(keys, vectorAt, threads, checkExpansions, cancellationToken);
        return new HnswBuildStats(repaired + searchRepaired, TimeSpan.Zero, TimeSpan.Zero, wall.Elapsed, Environment.CpuUsage.TotalTime - cpu, searches, rounds, fallback);
    }

    /// <summary>The staged search check of <see cref="EnsureReachable"/>; returns the searches per expansion and how many were inserted again.</summary>
    private (List<(int Expansion, int Searches)> Searches, int Repaired) SearchCheck(IReadOnlyList<ulong> keys, Action<int, Span<float>> vectorAt, int threads, IReadOnlyList<int> checkExpansions, CancellationToken cancellationToken)
    {
        int[] stages = [.. checkExpansions.Append(Settings.ExpansionSearch).Select(e => Math.Clamp(e, ReachabilityCandidates, Settings.ExpansionSearch)).Distinct().Order()];
        var repaired = 0;
        var searches = new int[stages.Length];
        IReadOnlyList<int> check = [.. Enumerable.Range(0, keys.Count)];
        try
        {
            for (var round = 0; round < RepairRounds && check.Count > 0; round++)
            {
                // Each stage searches again, with a longer candidate list, for the vectors the last one did not find;
                // the graph is searched by no one else while it is built, so its expansion may change meanwhile.
                var missed = check;
                for (var stage = 0; stage < stages.Length && missed.Count > 0; stage++)
                {
                    SetExpansionSearch(stages[stage]);
                    searches[stage] += missed.Count;
                    var lost = new System.Collections.Concurrent.ConcurrentBag<int>();
                    var searched = missed;
                    ForEachInParallel(searched.Count, threads, cancellationToken, (j, buffer, _) =>
                    {
                        vectorAt(searched[j], buffer);
                        if (!FindsItself(keys[searched[j]], buffer)) lost.Add(searched[j]);
                    });
                    missed = [.. lost.Order()];
                }

                // Not found even at the graph's own expansion: inserted again, on one thread, into the complete graph.
                repaired += ReinsertOneByOne(missed, keys, vectorAt, cancellationToken);
                check = missed;
            }
        }
        finally
        {
            SetExpansionSearch(Settings.ExpansionSearch);
        }

        return ([.. stages.Zip(searches).Where(s => s.Second > 0)], repaired);
    }

    /// <summary>Removes and adds again, on this thread, the vectors at <paramref name="indices"/> of <paramref name="keys"/>; returns how many.</summary>
    private int ReinsertOneByOne(IReadOnlyList<int> indices, IReadOnlyList<ulong> keys, Action<int, Span<float>> vectorAt, CancellationToken cancellationToken)
    {
        var vector = new float[Settings.Dimension];
        foreach (var i in indices)
        {
            cancellationToken.ThrowIfCancellationRequested();
            vectorAt(i, vector);
            Remove(keys[i]);
            Add(keys[i], vector);
        }

        return indices.Count;
    }

    /// <summary>
    /// Serialises the graph into native memory (USearch's own format, as <see cref="Save"/> writes it: at 1M int8
    /// vectors 724 MB, freed on return) and hands <paramref name="read"/> its parsed links; throws
    /// <see cref="InvalidDataException"/> when the layout is not the one <see cref="UsearchGraphImage"/> reads.
    /// </summary>
    internal unsafe T ReadLinks<T>(Func<UsearchGraphImage, T> read)
    {
        var length = SerializedLength();
        var buffer = (byte*)System.Runtime.InteropServices.NativeMemory.Alloc(length);
        try
        {
            SaveTo(buffer, length);
            return read(UsearchGraphImage.Parse(buffer, (long)length, Settings));
        }
        finally
        {
            System.Runtime.InteropServices.NativeMemory.Free(buffer);
        }
    }

    /// <summary>The graph serialised into an array (tests: small graphs only).</summary>
    internal unsafe byte[] Serialize()
    {
        var length = SerializedLength();
        var bytes = new byte[checked((int)length)];
        fixed (byte* p = bytes) SaveTo(p, length);
        return bytes;
    }

    private nuint SerializedLength()
    {
        var length = UsearchNative.SerializedLength(Handle, out var error);
        UsearchNative.Check(error, "serialized length");
        return length;
    }

    private unsafe void SaveTo(byte* buffer, nuint length)
    {
        UsearchNative.SaveBuffer(Handle, buffer, length, out var error);
        UsearchNative.Check(error, "save to memory");
    }

    // Dedicated threads, not Parallel.For: the pool may run every item on the first worker before it starts a
    // second (seen on an idle machine with 4,000 small vectors), and a long CPU-bound build should not hold
    // the pool's threads that the host's requests need.
    private void ForEachInParallel(int count, int workers, CancellationToken ct, Action<int, float[], sbyte[]> body)
    {
        var int8 = Settings.Quantization == AnnQuantization.Int8;
        var next = -1;
        Exception? failure = null;
        var pool = new Thread[workers];
        for (var w = 0; w < workers; w++)
        {
            pool[w] = new Thread(() =>
            {
                try
                {
                    var buffer = new float[Settings.Dimension];
                    var scaled = int8 ? new sbyte[Settings.Dimension] : [];
                    int i;
                    while (Volatile.Read(ref failure) is null && (i = Interlocked.Increment(ref next)) < count)
                    {
                        if ((i & 1023) == 0) ct.ThrowIfCancellationRequested();
                        body(i, buffer, scaled);
                    }
                }
                catch (Exception ex)
                {
                    Interlocked.CompareExchange(ref failure, ex, null);
                }
            })
            { IsBackground = true, Name = "vsearch-graph-build" };
            pool[w].Start();
        }

        foreach (var thread in pool) thread.Join();
        if (failure is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
    }

    /// <summary>Whether a search for <paramref name="vector"/> finds <paramref name="key"/> (or only identical vectors ahead of it).</summary>
    private bool FindsItself(ulong key, ReadOnlySpan<float> vector)
    {
        Span<ulong> found = stackalloc ulong[ReachabilityCandidates];
        Span<float> distances = stackalloc float[ReachabilityCandidates];
        var n = Search(vector, found, distances);
        if (found[..n].Contains(key)) return true;
        // Duplicates: as many identical vectors as candidates (distance 0 up to rounding) hide the key, not a lost link.
        return n == ReachabilityCandidates && distances[n - 1] <= 1e-5f;
    }

    private void SetExpansionSearch(int expansion)
    {
        UsearchNative.ChangeExpansionSearch(Handle, (nuint)expansion, out var error);
        UsearchNative.Check(error, "expansion");
    }

    public bool Remove(ulong key)
    {
        var removed = UsearchNative.Remove(Handle, key, out var error);
        UsearchNative.Check(error, "remove");
        return removed > 0;
    }

    public void Rename(ulong from, ulong to)
    {
        UsearchNative.Rename(Handle, from, to, out var error);
        UsearchNative.Check(error, "rename");
    }

    /// <summary>Up to <paramref name="keys"/>.Length nearest keys, closest first; returns how many were found.</summary>
    /// <remarks><paramref name="distances"/> are cosine distances (1 - cosine) on the stored (int8, float16 or float32) vectors.</remarks>
    public unsafe int Search(ReadOnlySpan<float> query, Span<ulong> keys, Span<float> distances)
    {
        CheckDimension(query);
        if (distances.Length < keys.Length) throw new ArgumentException("The distance buffer is shorter than the key buffer.", nameof(distances));
        var int8 = Settings.Quantization == AnnQuantization.Int8;
        Span<sbyte> scaled = !int8 ? default : query.Length <= 4096 ? stackalloc sbyte[query.Length] : new sbyte[query.Length];
        if (int8) ScaleToInt8(query, scaled);
        _searchSlots.Wait();
        try
        {
            fixed (float* q = query)
            fixed (sbyte* qi = scaled)
            fixed (ulong* k = keys)
            fixed (float* d = distances)
            {
                var found = int8
                    ? UsearchNative.Search(Handle, qi, UsearchNative.ScalarI8, (nuint)keys.Length, k, d, out var error)
                    : UsearchNative.Search(Handle, q, UsearchNative.ScalarF32, (nuint)keys.Length, k, d, out error);
                UsearchNative.Check(error, "search");
                return (int)found;
            }
        }
        finally
        {
            _searchSlots.Release();
        }
    }

    public void Dispose()
    {
        var handle = Interlocked.Exchange(ref _handle, IntPtr.Zero);
        if (handle != IntPtr.Zero) UsearchNative.Free(handle, out _);
        _searchSlots.Dispose();
    }

    /// <summary>Adds one vector with the capacity already reserved (<paramref name="scaled"/>: int8 scratch of the caller's thread).</summary>
    private unsafe void AddReserved(ulong key, ReadOnlySpan<float> vector, Span<sbyte> scaled)
    {
        CheckDimension(vector);
        if (Settings.Quantization == AnnQuantization.Int8)
        {
            ScaleToInt8(vector, scaled);
            fixed (sbyte* p = scaled)
            {
                UsearchNative.Add(Handle, key, p, UsearchNative.ScalarI8, out var error);
                UsearchNative.Check(error, "add");
            }

            return;
        }

        fixed (float* p = vector)
        {
            UsearchNative.Add(Handle, key, p, UsearchNative.ScalarF32, out var error);
            UsearchNative.Check(error, "add");
        }
    }

    private void EnsureCapacity(long needed)
    {
        var capacity = (long)UsearchNative.Capacity(Handle, out _);
        if (needed <= capacity) return;
        Reserve(Math.Max(needed, Math.Max(1024, capacity * 2)), addThreads: 1);
    }

    /// <summary>Reserves room for <paramref name="capacity"/> vectors; never while an insert or a search runs.</summary>
    private void Reserve(long capacity, int addThreads)
    {
        if (capacity > (long)UsearchNative.Capacity(Handle, out _))
        {
            UsearchNative.Reserve(Handle, (nuint)capacity, out var error);
            UsearchNative.Check(error, "reserve");
        }

        // A reservation resets the thread contexts to the library's default; set them again for what will run.
        SetThreads(Handle, addThreads);
    }

    private static void SetThreads(IntPtr handle, int addThreads = 1)
    {
        UsearchNative.ChangeThreadsSearch(handle, SearchContexts, out var error);
        UsearchNative.Check(error, "threads");
        UsearchNative.ChangeThreadsAdd(handle, (nuint)Math.Max(addThreads, Environment.ProcessorCount), out error);
        UsearchNative.Check(error, "threads");
    }

    /// <summary>
    /// Scales a vector so its largest component is ±127 and rounds it to int8. Cosine ignores a vector's
    /// length, so each vector may take its own scale and use all 8 bits: about 0.3% rounding error per
    /// component instead of the 4-5 levels a fixed ±1 → ±127 cast leaves for unit vectors of 512 dimensions
    /// (components around ±0.04). The graph only picks candidates; their scores are recomputed in float32.
    /// </summary>
    internal static void ScaleToInt8(ReadOnlySpan<float> vector, Span<sbyte> destination)
    {
        // MaxMagnitude returns the element itself, which may be negative.
        var max = Math.Abs(TensorPrimitives.MaxMagnitude(vector));
        var scale = max > 0 && float.IsFinite(max) ? 127f / max : 0f;
        for (var i = 0; i < vector.Length; i++)
            destination[i] = (sbyte)Math.Clamp(MathF.Round(vector[i] * scale), -127f, 127f);
    }

    private void CheckDimension(ReadOnlySpan<float> vector)
    {
        if (vector.Length != Settings.Dimension)
            throw new ArgumentException($"The vector has {vector.Length} dimensions; the graph holds {Settings.Dimension}.", nameof(vector));
    }
}

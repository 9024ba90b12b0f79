using System.Numerics.Tensors;

namespace VisualSearch.Index.Local.Ann;

/// <summary>Settings of an <see cref="HnswGraph"/>.</summary>
/// <param name="Dimension">Vector length.</param>
/// <param name="Connectivity">Links per node (HNSW M).</param>
/// <param name="ExpansionAdd">Candidate list while inserting (efConstruction).</param>
/// <param name="ExpansionSearch">Candidate list while searching (ef).</param>
/// <param name="Quantization">How the graph stores its vectors.</param>
internal sealed record HnswSettings(int Dimension, int Connectivity, int ExpansionAdd, int ExpansionSearch, AnnQuantization Quantization);

/// <summary>
/// An HNSW graph over cosine distance (USearch), keyed by 64-bit keys. Not thread-safe for writes: the
/// caller serialises <see cref="Add"/>, <see cref="Remove"/> and <see cref="Rename"/> against everything
/// else; <see cref="Search"/> may run concurrently with other searches.
/// </summary>
internal sealed class HnswGraph : IDisposable
{
    /// <summary>Most searches that may run at once (each holds one of the library's thread contexts).</summary>
    private const int SearchContexts = 64;

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
    public static HnswGraph Load(string path, HnswSettings settings)
    {
        var graph = Create(settings);
        try
        {
            UsearchNative.Load(graph._handle, path, out var error);
            UsearchNative.Check(error, "load");
            // The search expansion is not part of the file; the thread contexts are reset by a load.
            UsearchNative.ChangeExpansionSearch(graph._handle, (nuint)settings.ExpansionSearch, out error);
            UsearchNative.Check(error, "expansion");
            SetThreads(graph._handle);
            if ((int)UsearchNative.Dimensions(graph._handle, out error) != settings.Dimension)
                throw new InvalidDataException($"The graph at {path} is not of dimension {settings.Dimension}.");
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
    public unsafe void Add(ulong key, ReadOnlySpan<float> vector)
    {
        CheckDimension(vector);
        EnsureCapacity(Count + 1);
        if (Settings.Quantization == AnnQuantization.Int8)
        {
            Span<sbyte> scaled = vector.Length <= 4096 ? stackalloc sbyte[vector.Length] : new sbyte[vector.Length];
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

    /// <summary>
    /// Adds many vectors (capacity reserved once). One thread: adding from several threads through the C API
    /// was measured to leave some vectors unreachable (0.24% of 700 stored vectors not found as their own
    /// nearest neighbour, against none when added in order), so the build gives up the second core.
    /// </summary>
    public void AddMany(IReadOnlyList<ulong> keys, Func<int, ReadOnlyMemory<float>> vector, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(vector);
        EnsureCapacity(Count + keys.Count);
        for (var i = 0; i < keys.Count; i++)
        {
            if ((i & 1023) == 0) cancellationToken.ThrowIfCancellationRequested();
            Add(keys[i], vector(i).Span);
        }
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

    private void EnsureCapacity(long needed)
    {
        var capacity = (long)UsearchNative.Capacity(Handle, out _);
        if (needed <= capacity) return;
        var target = Math.Max(needed, Math.Max(1024, capacity * 2));
        UsearchNative.Reserve(Handle, (nuint)target, out var error);
        UsearchNative.Check(error, "reserve");
        // A reservation resets the thread contexts to the core count; searches may run more at once.
        SetThreads(Handle);
    }

    private static void SetThreads(IntPtr handle)
    {
        UsearchNative.ChangeThreadsSearch(handle, SearchContexts, out var error);
        UsearchNative.Check(error, "threads");
        UsearchNative.ChangeThreadsAdd(handle, (nuint)Math.Max(1, Environment.ProcessorCount), out error);
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

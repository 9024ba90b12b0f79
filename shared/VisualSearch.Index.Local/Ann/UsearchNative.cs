using System.Runtime.InteropServices;

namespace VisualSearch.Index.Local.Ann;

/// <summary>
/// The C API of USearch (libusearch_c, shipped for linux-x64, osx-arm64 and win-x64 in the Cloud.Unum.USearch
/// package). Called directly because the package's managed wrapper grows capacity by one vector per add (a
/// reallocation each time: quadratic at a million vectors), cannot add from several threads, and exposes
/// neither a capacity reservation nor the search expansion of a loaded index. Signatures as in usearch.h 2.x.
/// </summary>
internal static partial class UsearchNative
{
    private const string Library = "libusearch_c";

    public const int MetricCos = 1;
    public const int ScalarF32 = 1;
    public const int ScalarF16 = 3;
    public const int ScalarI8 = 4;

    /// <summary>usearch_init_options_t (metric function pointer unused: a built-in metric kind is named).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct InitOptions
    {
        public int MetricKind;
        public IntPtr Metric;
        public int Quantization;
        public nuint Dimensions;
        public nuint Connectivity;
        public nuint ExpansionAdd;
        public nuint ExpansionSearch;
        public byte Multi;
    }

    [LibraryImport(Library, EntryPoint = "usearch_init")]
    public static partial IntPtr Init(ref InitOptions options, out IntPtr error);

    [LibraryImport(Library, EntryPoint = "usearch_free")]
    public static partial void Free(IntPtr index, out IntPtr error);

    [LibraryImport(Library, EntryPoint = "usearch_save", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void Save(IntPtr index, string path, out IntPtr error);

    [LibraryImport(Library, EntryPoint = "usearch_load", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void Load(IntPtr index, string path, out IntPtr error);

    [LibraryImport(Library, EntryPoint = "usearch_size")]
    public static partial nuint Size(IntPtr index, out IntPtr error);

    [LibraryImport(Library, EntryPoint = "usearch_capacity")]
    public static partial nuint Capacity(IntPtr index, out IntPtr error);

    [LibraryImport(Library, EntryPoint = "usearch_dimensions")]
    public static partial nuint Dimensions(IntPtr index, out IntPtr error);

    [LibraryImport(Library, EntryPoint = "usearch_memory_usage")]
    public static partial nuint MemoryUsage(IntPtr index, out IntPtr error);

    [LibraryImport(Library, EntryPoint = "usearch_reserve")]
    public static partial void Reserve(IntPtr index, nuint capacity, out IntPtr error);

    [LibraryImport(Library, EntryPoint = "usearch_change_expansion_search")]
    public static partial void ChangeExpansionSearch(IntPtr index, nuint expansion, out IntPtr error);

    [LibraryImport(Library, EntryPoint = "usearch_change_threads_add")]
    public static partial void ChangeThreadsAdd(IntPtr index, nuint threads, out IntPtr error);

    [LibraryImport(Library, EntryPoint = "usearch_change_threads_search")]
    public static partial void ChangeThreadsSearch(IntPtr index, nuint threads, out IntPtr error);

    [LibraryImport(Library, EntryPoint = "usearch_add")]
    public static unsafe partial void Add(IntPtr index, ulong key, void* vector, int vectorKind, out IntPtr error);

    [LibraryImport(Library, EntryPoint = "usearch_contains")]
    [return: MarshalAs(UnmanagedType.U1)]
    public static partial bool Contains(IntPtr index, ulong key, out IntPtr error);

    [LibraryImport(Library, EntryPoint = "usearch_remove")]
    public static partial nuint Remove(IntPtr index, ulong key, out IntPtr error);

    [LibraryImport(Library, EntryPoint = "usearch_rename")]
    public static partial nuint Rename(IntPtr index, ulong from, ulong to, out IntPtr error);

    [LibraryImport(Library, EntryPoint = "usearch_search")]
    public static unsafe partial nuint Search(IntPtr index, void* query, int queryKind, nuint count, ulong* keys, float* distances, out IntPtr error);

    [LibraryImport(Library, EntryPoint = "usearch_serialized_length")]
    public static partial nuint SerializedLength(IntPtr index, out IntPtr error);

    /// <summary>Writes the index as <see cref="Save"/> would (vectors, head, graph) into <paramref name="length"/> bytes at <paramref name="buffer"/>.</summary>
    [LibraryImport(Library, EntryPoint = "usearch_save_buffer")]
    public static unsafe partial void SaveBuffer(IntPtr index, void* buffer, nuint length, out IntPtr error);

    /// <summary>Reads an index written by <see cref="SaveBuffer"/> (copied: the buffer may be freed afterwards).</summary>
    [LibraryImport(Library, EntryPoint = "usearch_load_buffer")]
    public static unsafe partial void LoadBuffer(IntPtr index, void* buffer, nuint length, out IntPtr error);

    /// <summary>Throws when the call reported an error (a static message owned by the library).</summary>
    public static void Check(IntPtr error, string operation)
    {
        if (error != IntPtr.Zero)
            throw new InvalidOperationException($"USearch {operation} failed: {Marshal.PtrToStringUTF8(error)}");
    }
}

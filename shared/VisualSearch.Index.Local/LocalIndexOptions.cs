using System.ComponentModel.DataAnnotations;

namespace VisualSearch.Index.Local;

/// <summary>The embedded index. Section "LocalIndex" (environment: LocalIndex__Path).</summary>
public sealed class LocalIndexOptions
{
    public const string SectionName = "LocalIndex";

    /// <summary>Directory of the index; relative paths resolve against the current directory. Default .vsearch.</summary>
    [Required]
    public string Path { get; set; } = ".vsearch";

    /// <summary>fsync every write before acknowledging it (default true). Off trades durability for speed.</summary>
    public bool FlushToDisk { get; set; } = true;

    /// <summary>Rewrite the log when it holds this many times more entries than live records (and over 1,000).</summary>
    [Range(1.5, 100)]
    public double CompactionRatio { get; set; } = 2.0;

    /// <summary>
    /// From this many vectors on (one per record, plus its region vectors where it has them), search walks an HNSW graph (USearch; int8 vectors by default) and re-ranks its
    /// candidates exactly with the float32 vectors read from the log, instead of scanning every vector in
    /// memory; the float32 copies then leave memory. Below it the exact scan is used. 0: always exact.
    /// Default 50,000 (an exact scan of 50,000 x 512 floats takes about 5 ms).
    /// </summary>
    [Range(0, int.MaxValue)]
    public int AnnThreshold { get; set; } = 50_000;

    /// <summary>
    /// Threads that build the graph from scratch (when the index crosses <see cref="AnnThreshold"/>, or when no saved
    /// graph matches the log); 0 (the default) uses every core. Inserts after the build are one at a time.
    /// </summary>
    [Range(0, 256)]
    public int AnnBuildThreads { get; set; }

    /// <summary>
    /// Links per graph node (HNSW M; default 24: with int8 vectors at 1M clustered vectors, 16 left about 5% of
    /// the exact top 10 unreachable at any search expansion, 24 about 2%; see docs/performance.md).
    /// </summary>
    [Range(4, 64)]
    public int AnnConnectivity { get; set; } = 24;

    /// <summary>
    /// Candidate list while inserting into the graph (efConstruction; default 64: 128 built 2.5x slower for
    /// the same recall at 100k vectors).
    /// </summary>
    [Range(8, 1024)]
    public int AnnExpansionAdd { get; set; } = 64;

    /// <summary>
    /// Candidate list while searching the graph (ef; default 256). Higher: better recall, slower (at 1M
    /// clustered int8 vectors, M 24: 128 found 95.4% of the exact top 10 in 1.2 ms, 256 97.8% in 1.8 ms,
    /// 512 97.9% in 4.4 ms; see docs/performance.md).
    /// </summary>
    [Range(8, 4096)]
    public int AnnExpansionSearch { get; set; } = 256;

    /// <summary>
    /// Graph candidates taken per result asked for (default 4: k = 10 takes 40), so that a filter or the
    /// excluded id still leaves k; those that pass are re-scored exactly from the log.
    /// </summary>
    [Range(1, 100)]
    public int AnnOverfetch { get; set; } = 4;

    /// <summary>
    /// How a filtered search is answered in graph mode. Auto (default): <see cref="FilterPlanner"/> estimates the
    /// share of records the filter (owner scope included) admits from a sample of 1,024 records' metadata, and
    /// scans the matching records exactly when the graph would need more than 4,096 candidates to keep k x
    /// <see cref="AnnOverfetch"/> that pass (for k 10: a filter admitting under about 1.5%), otherwise asks the
    /// graph for 1.5 x k x overfetch / share candidates. Graph or Exact force one path (for measuring).
    /// </summary>
    public FilteredSearchMode FilteredSearch { get; set; } = FilteredSearchMode.Auto;

    /// <summary>
    /// How the graph stores vectors: Int8 (default; 1 byte a dimension, each vector scaled to use the full
    /// range), Float16 or Float32. Results are re-scored exactly either way; this only changes which
    /// candidates the graph finds, its memory and its speed (docs/performance.md).
    /// </summary>
    public AnnQuantization AnnQuantization { get; set; } = AnnQuantization.Int8;

    /// <summary>
    /// How a build on several threads makes sure every vector can be reached: Links (default) reads the graph's links
    /// and re-inserts what no link path from the entry node reaches; Search searches for every vector (the check
    /// before issue 21's fifth run: at 1M it cost as much as the inserts). Links falls back to Search by itself
    /// when USearch's serialised layout is not the one it reads (logged).
    /// </summary>
    public AnnBuildCheck AnnBuildCheck { get; set; } = AnnBuildCheck.Links;
}

/// <summary>How a parallel graph build of a <see cref="LocalVectorIndex"/> makes sure every vector can be reached.</summary>
public enum AnnBuildCheck
{
    /// <summary>
    /// Serialise the graph (USearch's own format), walk its links from the entry node over every level and re-insert,
    /// on one thread, the vectors no link path reaches or no bottom-level link leads to; repeated until none is lost.
    /// </summary>
    Links,

    /// <summary>Search for every vector (16 candidates, the misses again at the add expansion, then at the graph's own) and re-insert what is not found.</summary>
    Search,
}

/// <summary>How the HNSW graph of a <see cref="LocalVectorIndex"/> stores its vectors.</summary>
public enum AnnQuantization
{
    /// <summary>1 byte a dimension; each vector scaled so its largest component is ±127.</summary>
    Int8,

    /// <summary>2 bytes a dimension.</summary>
    Float16,

    /// <summary>4 bytes a dimension.</summary>
    Float32,
}

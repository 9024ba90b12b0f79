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
}

using System.ComponentModel.DataAnnotations;

namespace VisualSearch.Hosting;

/// <summary>Which backend holds the vectors. Section "VectorIndex" (environment: VectorIndex__Provider).</summary>
public sealed class VectorIndexOptions
{
    public const string SectionName = "VectorIndex";
    public const string Local = "Local";
    public const string AzureSearch = "AzureSearch";

    /// <summary>Local (default: the embedded index, section LocalIndex) or AzureSearch (section AzureSearch): a key of <see cref="VectorIndexHostingExtensions.Providers"/>.</summary>
    [Required]
    public string Provider { get; set; } = Local;
}

/// <summary>What a host does with the index.</summary>
public enum VectorIndexRole
{
    /// <summary>Answer queries and ingest: the current model's index (per the catalog's pointer); a model mismatch stops the host.</summary>
    Serve,

    /// <summary><c>vsearch reindex</c>: the configured model's index, built beside the current one; the pointer is not followed.</summary>
    Build,
}

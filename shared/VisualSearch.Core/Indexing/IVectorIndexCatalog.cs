namespace VisualSearch.Indexing;

/// <summary>
/// The model versions of one index backend. Every index holds one model's vectors; the catalog keeps one
/// version per model and a pointer naming the current one, which serving hosts follow
/// (<see cref="VersionedVectorIndex"/>) and <c>vsearch reindex</c> moves. Each backend implements it over
/// its own storage (directories and a CURRENT file; one Azure AI Search index per model and a pointer document).
/// </summary>
public interface IVectorIndexCatalog
{
    /// <summary>The backend's kind, as its indexes report it ("local", "azure-search", ...).</summary>
    string Kind { get; }

    /// <summary>The current version, or null while no model is current (a fresh root or service).</summary>
    Task<IndexVersion?> GetCurrentAsync(CancellationToken cancellationToken = default);

    /// <summary>The name of a model's version (a directory name, or an Azure AI Search index name).</summary>
    string VersionName(string modelId);

    /// <summary>Where a version lives, for messages (a path, or an index at an endpoint).</summary>
    string Describe(string versionName);

    /// <summary>Where the current-model pointer lives, for messages (a file, or a pointer index).</summary>
    string PointerLocation { get; }

    /// <summary>Names of every version, in ordinal order.</summary>
    Task<IReadOnlyList<string>> ListVersionsAsync(CancellationToken cancellationToken = default);

    /// <summary>A closed index over one version; call <see cref="IVectorIndex.InitializeAsync"/> with its model's schema.</summary>
    IVectorIndex OpenVersion(IndexVersion version);

    /// <summary>Points the hosts at the version of <paramref name="schema"/>'s model (atomic). The version must exist.</summary>
    Task SwitchToAsync(IndexSchema schema, CancellationToken cancellationToken = default);

    /// <summary>Deletes a version; refuses the current one.</summary>
    Task DeleteVersionAsync(string versionName, CancellationToken cancellationToken = default);
}

/// <summary>One model's version in a catalog: the model and the name its backend stores it under.</summary>
public sealed record IndexVersion(string ModelId, string Name);

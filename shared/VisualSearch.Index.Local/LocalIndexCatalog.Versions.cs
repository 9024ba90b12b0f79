using VisualSearch.Indexing;

namespace VisualSearch.Index.Local;

/// <summary>The embedded index's <see cref="IVectorIndexCatalog"/>: version names are model ids (directory names).</summary>
public sealed partial class LocalIndexCatalog : IVectorIndexCatalog
{
    public string Kind => "local";

    Task<IndexVersion?> IVectorIndexCatalog.GetCurrentAsync(CancellationToken cancellationToken) =>
        Task.FromResult(ReadCurrent() is { } modelId ? new IndexVersion(modelId, modelId) : null);

    public string VersionName(string modelId) => CheckModelId(modelId);

    public string PointerLocation => Path.Combine(Root, CurrentFile);

    Task<IReadOnlyList<string>> IVectorIndexCatalog.ListVersionsAsync(CancellationToken cancellationToken) => Task.FromResult(ListVersions());

    IVectorIndex IVectorIndexCatalog.OpenVersion(IndexVersion version)
    {
        ArgumentNullException.ThrowIfNull(version);
        return OpenVersion(version.Name);
    }

    Task IVectorIndexCatalog.SwitchToAsync(IndexSchema schema, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(schema);
        SwitchTo(schema.ModelId);
        return Task.CompletedTask;
    }

    Task IVectorIndexCatalog.DeleteVersionAsync(string versionName, CancellationToken cancellationToken)
    {
        DeleteVersion(versionName);
        return Task.CompletedTask;
    }
}

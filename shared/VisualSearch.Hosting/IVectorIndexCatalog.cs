using VisualSearch.Index.AzureSearch;
using VisualSearch.Index.Local;
using VisualSearch.Indexing;

namespace VisualSearch.Hosting;

/// <summary>
/// The model versions of the configured backend, for <c>vsearch reindex</c>: which model is current, where a
/// model's version lives, switching the pointer, deleting old versions. One implementation per backend over
/// its own catalog (<see cref="LocalIndexCatalog"/>, <see cref="AzureSearchIndexCatalog"/>).
/// </summary>
public interface IVectorIndexCatalog
{
    /// <summary>"local" or "azure-search".</summary>
    string Kind { get; }

    /// <summary>The current model id, or null while there is none.</summary>
    Task<string?> GetCurrentModelAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// The name of the current version, or null while there is none. It differs from <see cref="VersionName"/> of the
    /// current model when the version's storage settings changed (Azure AI Search: vector compression), which makes a
    /// reindex of the same model build a new version. Default: the current model's <see cref="VersionName"/>.
    /// </summary>
    async Task<string?> GetCurrentVersionAsync(CancellationToken cancellationToken = default) =>
        await GetCurrentModelAsync(cancellationToken).ConfigureAwait(false) is { } model ? VersionName(model) : null;

    /// <summary>The name of a model's version (a directory name, or an Azure AI Search index name).</summary>
    string VersionName(string modelId);

    /// <summary>Where a version lives, for messages (a path, or an index at an endpoint).</summary>
    string Describe(string versionName);

    /// <summary>Names of every version, in ordinal order.</summary>
    Task<IReadOnlyList<string>> ListVersionsAsync(CancellationToken cancellationToken = default);

    /// <summary>Deletes a version; refuses the current one.</summary>
    Task DeleteVersionAsync(string versionName, CancellationToken cancellationToken = default);

    /// <summary>Points the hosts at the version of <paramref name="schema"/>'s model (atomic).</summary>
    Task SwitchToAsync(IndexSchema schema, CancellationToken cancellationToken = default);
}

/// <summary>The embedded index's versions: directories under LocalIndex:Path and the CURRENT file.</summary>
public sealed class LocalVectorIndexCatalog(LocalIndexCatalog catalog) : IVectorIndexCatalog
{
    public string Kind => "local";

    public Task<string?> GetCurrentModelAsync(CancellationToken cancellationToken = default) => Task.FromResult(catalog.ReadCurrent());

    public string VersionName(string modelId) => modelId;

    public string Describe(string versionName) => catalog.VersionDirectory(versionName);

    public Task<IReadOnlyList<string>> ListVersionsAsync(CancellationToken cancellationToken = default) => Task.FromResult(catalog.ListVersions());

    public Task DeleteVersionAsync(string versionName, CancellationToken cancellationToken = default)
    {
        catalog.DeleteVersion(versionName);
        return Task.CompletedTask;
    }

    public Task SwitchToAsync(IndexSchema schema, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(schema);
        catalog.SwitchTo(schema.ModelId);
        return Task.CompletedTask;
    }
}

/// <summary>Azure AI Search's versions: one index per model and the pointer document in &lt;IndexName&gt;-meta.</summary>
public sealed class AzureSearchVectorIndexCatalog(AzureSearchIndexCatalog catalog) : IVectorIndexCatalog
{
    public string Kind => AzureSearchVectorIndex.BackendKind;

    public async Task<string?> GetCurrentModelAsync(CancellationToken cancellationToken = default) =>
        (await catalog.GetCurrentAsync(cancellationToken).ConfigureAwait(false))?.ModelId;

    public async Task<string?> GetCurrentVersionAsync(CancellationToken cancellationToken = default) =>
        (await catalog.GetCurrentAsync(cancellationToken).ConfigureAwait(false))?.IndexName;

    public string VersionName(string modelId) => catalog.VersionName(modelId);

    public string Describe(string versionName) => $"Azure AI Search index '{versionName}' at {catalog.IndexClient.Endpoint}";

    public Task<IReadOnlyList<string>> ListVersionsAsync(CancellationToken cancellationToken = default) => catalog.ListVersionsAsync(cancellationToken);

    public Task DeleteVersionAsync(string versionName, CancellationToken cancellationToken = default) => catalog.DeleteVersionAsync(versionName, cancellationToken);

    public Task SwitchToAsync(IndexSchema schema, CancellationToken cancellationToken = default) => catalog.SwitchToAsync(schema, cancellationToken);
}

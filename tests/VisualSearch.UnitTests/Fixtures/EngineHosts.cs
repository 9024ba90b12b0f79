using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using VisualSearch.Index.Local;

namespace VisualSearch.UnitTests.Fixtures;

/// <summary>The engine as a host composes it (<c>AddVisualSearchEngine</c> over the embedded index), for tests of the composition.</summary>
public static class EngineHosts
{
    /// <summary>
    /// A host of <paramref name="settings"/> (changed: no warm-up, the index at <paramref name="indexPath"/>, derived models in
    /// <paramref name="modelCache"/> when given), not started.
    /// </summary>
    public static IHost Build(Dictionary<string, string?> settings, string indexPath, string? modelCache = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        settings["Encoder:WarmUpOnStart"] = "false";
        if (modelCache is not null) settings["Encoder:Int8CachePath"] = modelCache;
        settings["LocalIndex:Path"] = indexPath;
        builder.Configuration.AddInMemoryCollection(settings);
        builder.AddVisualSearchEngine();
        builder.AddLocalVectorIndex();
        return builder.Build();
    }
}

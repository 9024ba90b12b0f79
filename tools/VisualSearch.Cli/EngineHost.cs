using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using VisualSearch.Hosting;
using VisualSearch.Index.Local;

namespace VisualSearch.Cli;

/// <summary>Composition for the one-shot commands (index, search): the engine over the configured index (VectorIndex:Provider).</summary>
public static class EngineHost
{
    public static IHost Build(CliArgs args, IDictionary<string, string?>? overrides = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = false, Args = [] });
        builder.Configuration.AddInMemoryCollection(Overrides(args, overrides));
        builder.Logging.SetMinimumLevel(args.Has("verbose") ? LogLevel.Information : LogLevel.Error);
        builder.AddVisualSearchEngine();
        builder.AddVectorIndex();
        return builder.Build();
    }

    /// <summary>Settings from command-line options, which win over appsettings and environment variables.</summary>
    public static Dictionary<string, string?> Overrides(CliArgs args, IDictionary<string, string?>? extra = null)
    {
        var settings = new Dictionary<string, string?>();
        if (args.Get("index") is { } index) settings[$"{LocalIndexOptions.SectionName}:Path"] = index;
        if (extra is not null) foreach (var (k, v) in extra) settings[k] = v;
        return settings;
    }
}

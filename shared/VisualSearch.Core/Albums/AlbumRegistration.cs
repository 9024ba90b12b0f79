using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace VisualSearch.Albums;

/// <summary>The shared-albums part of <see cref="VisualSearchEngineExtensions.AddVisualSearchEngine"/>.</summary>
internal static class AlbumRegistration
{
    /// <summary>Where shares live when Albums:Path is empty: beside the index's model versions.</summary>
    internal static string DefaultPath(IConfiguration configuration) =>
        Path.Combine(configuration["LocalIndex:Path"] is { Length: > 0 } root ? root : ".vsearch", "albums", "shares.json");

    internal static void Add(IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<AlbumOptions>().Bind(builder.Configuration.GetSection(AlbumOptions.SectionName)).ValidateDataAnnotations().ValidateOnStart();
        // The file store unless a host registers another (the Functions host: a blob, AddBlobAlbumShares).
        services.TryAddSingleton<IAlbumShareStore>(sp =>
        {
            var configured = sp.GetRequiredService<IOptions<AlbumOptions>>().Value.Path;
            return new FileAlbumShareStore(string.IsNullOrWhiteSpace(configured) ? DefaultPath(builder.Configuration) : configured);
        });
        services.TryAddSingleton<AlbumService>();
    }
}

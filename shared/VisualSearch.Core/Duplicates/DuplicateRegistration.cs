using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace VisualSearch.Duplicates;

/// <summary>The duplicate-grouping part of <see cref="VisualSearchEngineExtensions.AddVisualSearchEngine"/>.</summary>
internal static class DuplicateRegistration
{
    /// <summary>Where decisions live when Duplicates:DecisionsPath is empty: beside the index's model versions.</summary>
    internal static string DefaultDecisionsPath(IConfiguration configuration) =>
        Path.Combine(configuration["LocalIndex:Path"] is { Length: > 0 } root ? root : ".vsearch", "duplicates", "decisions.jsonl");

    internal static void Add(IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<DuplicateOptions>().Bind(builder.Configuration.GetSection(DuplicateOptions.SectionName)).ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton(sp =>
        {
            var configured = sp.GetRequiredService<IOptions<DuplicateOptions>>().Value.DecisionsPath;
            var path = string.IsNullOrWhiteSpace(configured) ? DefaultDecisionsPath(builder.Configuration) : configured;
            return new DuplicateDecisionStore(path, sp.GetRequiredService<TimeProvider>());
        });
        services.TryAddSingleton<DuplicateService>();
    }
}

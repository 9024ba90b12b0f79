using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using VisualSearch.Imaging;

namespace VisualSearch.Api;

/// <summary>What the page needs beyond the search API: the item image service (its routes are in <see cref="VisualSearchRoutes"/>).</summary>
public static class VisualSearchPageExtensions
{
    /// <summary>
    /// Registers <see cref="ItemImageService"/> (section "Images"). The host registers the <see cref="IImageStore"/>s
    /// that hold its originals (a blob container, local folders).
    /// </summary>
    public static IHostApplicationBuilder AddVisualSearchImages(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddOptions<ImageServingOptions>()
            .Bind(builder.Configuration.GetSection(ImageServingOptions.SectionName))
            .Validate(o => o.MaxAge >= TimeSpan.Zero && o.MaxAge <= TimeSpan.FromDays(365), "Images:MaxAge is from 00:00:00 to 365.00:00:00.")
            .ValidateOnStart();
        builder.Services.TryAddSingleton<ItemImageService>();
        return builder;
    }
}

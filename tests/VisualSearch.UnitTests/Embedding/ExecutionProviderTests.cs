using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using VisualSearch.Diagnostics;
using VisualSearch.Embedding;

namespace VisualSearch.UnitTests.Embedding;

public sealed class ExecutionProviderTests
{
    [Fact]
    public void Cuda_on_the_cpu_build_fails_at_load_with_the_fix_in_the_message()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var metrics = new VisualSearchMetrics(services.GetRequiredService<IMeterFactory>());
        using var encoder = new OnnxImageEncoder(
            Options.Create(new EncoderOptions { ExecutionProvider = ExecutionProvider.Cuda }),
            NullLogger<OnnxImageEncoder>.Instance, metrics);
        var ex = Assert.Throws<InvalidOperationException>(() => encoder.Model);
        Assert.Contains("OnnxRuntimeFlavor=Gpu", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Encoder:ExecutionProvider=Cpu", ex.Message, StringComparison.Ordinal);
    }
}

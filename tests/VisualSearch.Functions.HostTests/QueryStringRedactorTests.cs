using Microsoft.ApplicationInsights.DataContracts;
using VisualSearch.Functions.Telemetry;

namespace VisualSearch.Functions.HostTests;

/// <summary>The Functions worker's telemetry never carries a query value: a ?code= function key, a SAS signature (issue 20, item 5).</summary>
public sealed class QueryStringRedactorTests
{
    private const string Secret = "s3cr3t-function-key-value";

    [Fact]
    public void Request_and_dependency_urls_lose_their_query_values_and_keep_the_rest()
    {
        var redactor = new QueryStringRedactor();
        var request = new RequestTelemetry { Url = new Uri($"https://func-x.azurewebsites.net/api/search?code={Secret}&k=5") };
        redactor.Initialize(request);
        Assert.Equal("https://func-x.azurewebsites.net/api/search?code=***&k=***", request.Url.ToString());

        var dependency = new DependencyTelemetry { Type = "Azure blob", Data = $"https://st.blob.core.windows.net/images/a.png?sv=2024&sig={Secret}" };
        redactor.Initialize(dependency);
        Assert.Equal("https://st.blob.core.windows.net/images/a.png?sv=***&sig=***", dependency.Data);

        var plain = new RequestTelemetry { Url = new Uri("https://func-x.azurewebsites.net/api/health") };
        redactor.Initialize(plain);
        Assert.Equal("https://func-x.azurewebsites.net/api/health", plain.Url.ToString());
        var sql = new DependencyTelemetry { Data = "SELECT 1" };
        redactor.Initialize(sql);
        Assert.Equal("SELECT 1", sql.Data);
    }
}

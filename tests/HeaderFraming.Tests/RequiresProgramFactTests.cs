using HeaderFraming.Tests.Infrastructure;

namespace HeaderFraming.Tests;

/// <summary>The real-server tests skip only when their program is missing, and say what to install.</summary>
public class RequiresProgramFactTests
{
    [Fact]
    public void AMissingProgramSkipsWithTheDebianPackageToInstall()
    {
        var fact = new RequiresProgramFactAttribute("headerframing-no-such-server", "no-such-package");
        Assert.NotNull(fact.Skip);
        Assert.Contains("headerframing-no-such-server is not installed", fact.Skip, StringComparison.Ordinal);
        Assert.Contains("apt-get install -y no-such-package", fact.Skip, StringComparison.Ordinal);
    }

    [Fact]
    public void AnInstalledProgramDoesNotSkip()
    {
        Assert.Null(new RequiresProgramFactAttribute("sh", "dash").Skip);
        Assert.NotNull(ServerProcess.Find("sh"));
    }
}
